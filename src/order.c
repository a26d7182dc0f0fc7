/* order.c: the chunks of a spill in insertion order, so that spill_remove in any order and
 * spill_addr by position each cost O(log n): the chunks sit in an array of slots, a removed
 * chunk leaves an empty slot, and a Fenwick tree over the slots counts the chunks before each,
 * which turns a position into a slot. The array is compacted once empty slots outnumber chunks,
 * so memory per chunk stays bounded and each removal costs amortised O(1) more. */
#include <stdlib.h>
#include <string.h>

#include "spill_int.h"

#define MIN_CAP 64

/* The Fenwick tree is 1-based: tree[k] covers slots (k - lowbit(k), k]. */
static void tree_add(spill__order *o, size_t slot, int delta)
{
    size_t k;
    for (k = slot + 1; k <= o->cap; k += k & (~k + 1))
        o->tree[k] = (size_t)((long long)o->tree[k] + delta);
}

/* Rebuilds the tree from the slots in O(cap). */
static void tree_build(spill__order *o)
{
    size_t k, j;
    memset(o->tree, 0, (o->cap + 1) * sizeof *o->tree);
    for (k = 1; k <= o->cap; k++) {
        o->tree[k] += k <= o->used && o->slot[k - 1] ? 1 : 0;
        j = k + (k & (~k + 1));
        if (j <= o->cap)
            o->tree[j] += o->tree[k];
    }
}

/* Moves the chunks to the front, in order, and rebuilds the tree. */
static void compact(spill__order *o)
{
    size_t from, to = 0;
    for (from = 0; from < o->used; from++) {
        if (!o->slot[from])
            continue;
        o->slot[to] = o->slot[from];
        o->slot[to]->slot = to;
        to++;
    }
    o->used = to;
    tree_build(o);
}

static int grow(spill__order *o)
{
    size_t cap = o->cap ? o->cap * 2 : MIN_CAP;
    spill__chunk **slot = realloc(o->slot, cap * sizeof *slot);
    size_t *tree;
    if (!slot)
        return spill__error(SPILL_ENOMEM, "realloc", "", "out of memory");
    o->slot = slot;
    if (!(tree = realloc(o->tree, (cap + 1) * sizeof *tree)))
        return spill__error(SPILL_ENOMEM, "realloc", "", "out of memory");
    o->tree = tree;
    o->cap = cap;
    tree_build(o);
    return SPILL_OK;
}

int spill__order_push(spill__order *o, spill__chunk *c)
{
    int rc;
    if (o->used == o->cap) {
        if (o->used - o->live >= o->used / 2 && o->cap)
            compact(o); /* half the slots are empty: reuse them rather than grow */
        else if ((rc = grow(o)) != SPILL_OK)
            return rc;
    }
    c->slot = o->used;
    o->slot[o->used++] = c;
    o->live++;
    tree_add(o, c->slot, 1);
    return SPILL_OK;
}

void spill__order_remove(spill__order *o, spill__chunk *c)
{
    o->slot[c->slot] = NULL;
    tree_add(o, c->slot, -1);
    o->live--;
    if (o->used > MIN_CAP && o->used - o->live > o->live)
        compact(o);
}

/* The i-th chunk (0-based): the slot before which exactly i chunks lie and which holds one. */
spill__chunk *spill__order_at(const spill__order *o, size_t i)
{
    size_t pos = 0, step = 1, left = i + 1;
    if (i >= o->live)
        return NULL;
    while (step * 2 <= o->cap)
        step *= 2;
    for (; step; step /= 2) {
        if (pos + step <= o->cap && o->tree[pos + step] < left) {
            pos += step;
            left -= o->tree[pos];
        }
    }
    return o->slot[pos]; /* slot index pos is tree position pos + 1 */
}

void spill__order_free(spill__order *o)
{
    free(o->slot);
    free(o->tree);
    memset(o, 0, sizeof *o);
}

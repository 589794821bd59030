/*
 * Inside lib/oc-filter: the parsed tree that the parser (oc-filter.c)
 * builds and the compiler (oc-filter-bson.c) and evaluator
 * (oc-filter-eval.c) walk. Not for use outside these files.
 */
#ifndef OC_FILTER_TREE_H
#define OC_FILTER_TREE_H

#include <stdint.h>

#include "oc-filter.h"

enum ofl_type {
	OFL_STRING,
	OFL_NUMBER,
	OFL_OID,
	OFL_DATE,
	OFL_BOOL
};

/* One field a filter may name. */
struct ofl_field {
	const char	*name;		/* as the API shows it: "items.sku" */
	const char	*mongo;		/* stored path: "_id" for "id" */
	const char	*array;		/* the array on the path, or NULL */
	enum ofl_type	 type;
	unsigned	 need;		/* OC_FILTER_SEE_* flags */
};

enum ofl_op {
	OFL_EQ,
	OFL_NE,
	OFL_LT,
	OFL_LE,
	OFL_GT,
	OFL_GE,
	OFL_IN,
	OFL_BETWEEN,
	OFL_LIKE,
	OFL_ILIKE,
	OFL_NULL
};

/* A typed literal, converted once at parse time. */
struct ofl_value {
	bool		 is_int;	/* numbers: int64 in i, else d */
	int64_t		 i;		/* integer; date in ms; bool 0/1 */
	double		 d;
	char		*s;		/* string; ObjectId as lower-case hex */
	size_t		 len;
};

/* One element of a LIKE pattern. */
struct ofl_atom {
	uint32_t	 cp;		/* code point, case-folded for ILIKE */
	uint8_t		 kind;		/* OFL_ATOM_* */
};

#define OFL_ATOM_CHAR	0
#define OFL_ATOM_ONE	1	/* _ */
#define OFL_ATOM_ANY	2	/* % (runs merged) */

enum ofl_kind {
	OFL_AND,
	OFL_OR,
	OFL_NOT,
	OFL_PRED
};

struct ofl_node {
	enum ofl_kind		 kind;
	struct ofl_node		**kids;		/* AND, OR: >= 2; NOT: 1 */
	size_t			 nkids;

	/* OFL_PRED */
	const struct ofl_field	*field;
	enum ofl_type		 type;
	char			*name;		/* as written: "doc.status" */
	char			*mongo;		/* path for MongoDB */
	char			**parts;	/* JSON path, split at '.' */
	size_t			 nparts;
	enum ofl_op		 op;
	struct ofl_value	*vals;		/* 1, 2 (BETWEEN) or IN list */
	size_t			 nvals;
	char			*pattern;	/* LIKE text as written */
	size_t			 patlen;
	struct ofl_atom		*atoms;		/* compiled LIKE pattern */
	size_t			 natoms;
};

struct oc_filter {
	enum oc_filter_target	 target;
	struct ofl_node		*root;
	char			*text;		/* normalised */
};

/* Case folding that ILIKE and the regex 'i' option agree on. */
uint32_t ofl_fold(uint32_t cp);

/*
 * Decode one UTF-8 code point of s[0..len) (len > 0) into *cp; returns
 * its length. An invalid byte decodes as itself plus 0x110000, so it
 * matches only the same byte.
 */
size_t ofl_utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

/* Parse ISO-8601 text into ms since the epoch; false when it is not. */
bool ofl_parse_date(const char *s, size_t len, int64_t *ms);

#endif

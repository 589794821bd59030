/* One writer of error bodies, so every error reads alike and stays UTF-8. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oc-errbody.h"
#include "oc-json.h"
#include "oc-xmalloc.h"

/*
 * The length of the UTF-8 character at s (n bytes left), or 0 when the
 * bytes there are not one: overlong forms, surrogates and code points
 * past U+10FFFF are refused, as JSON parsers do.
 */
static size_t
utf8_char_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return len;
}

/* Messages quote input; this keeps the JSON around them valid. */
char *
oc_utf8_clip(const char *s, size_t len, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	char *out = xmalloc((len < max ? len : max) + 1);
	size_t i = 0, o = 0, n;

	while (i < len) {
		n = utf8_char_len(u + i, len - i);
		if (o + (n > 0 ? n : 1) > max)
			break;
		if (n == 0) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

/* Field order is fixed so error bodies compare as text in tests. */
json_object *
oc_errbody_new(const char *code, const char *field, const char *message)
{
	json_object *body, *err;
	char *clipped;

	clipped = oc_utf8_clip(message, strlen(message),
	    OC_ERROR_MESSAGE_MAX);
	err = json_object_new_object();
	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message",
	    json_object_new_string(clipped));
	if (field != NULL) {
		/* A field name can come from the request's bytes too. */
		char *f = oc_utf8_clip(field, strlen(field), strlen(field));

		json_object_object_add(err, "field",
		    json_object_new_string(f));
		free(f);
	}
	body = json_object_new_object();
	json_object_object_add(body, "error", err);
	free(clipped);
	return body;
}

/* The API formats most messages; room for a message and then some. */
json_object *
oc_errbody_newv(const char *code, const char *field, const char *fmt,
    va_list ap)
{
	char msg[OC_ERROR_MESSAGE_MAX * 2];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return oc_errbody_new(code, field, msg);
}

/* printf-style front of oc_errbody_newv(). */
json_object *
oc_errbody_newf(const char *code, const char *field, const char *fmt, ...)
{
	json_object *body;
	va_list ap;

	va_start(ap, fmt);
	body = oc_errbody_newv(code, field, fmt, ap);
	va_end(ap);
	return body;
}

/* The relay writes raw FastCGI records and wants text, not objects. */
char *
oc_errbody_text(const char *code, const char *field, const char *message,
    size_t *len)
{
	json_object *body = oc_errbody_new(code, field, message);
	size_t n;
	char *text;

	text = xstrdup(oc_json_text(body, &n));
	if (len != NULL)
		*len = n;
	json_object_put(body);
	return text;
}

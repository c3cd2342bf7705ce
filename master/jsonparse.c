/* SPDX-License-Identifier: MIT */
/*
 * Strict JSON in and compact JSON out. json-c's STRICT mode still accepts
 * NaN, stops at a NUL and coerces silently, so the checks it lacks are
 * made here, once, for every JSON text that enters the master.
 */
#include <math.h>
#include <string.h>

#include "master.h"

#define JSON_MAX_DEPTH 16

static int
jsonparse_finite(json_object *o, int depth)
{
	if (depth > JSON_MAX_DEPTH)
		return (0);
	switch (json_object_get_type(o)) {
	case json_type_double:
		return (isfinite(json_object_get_double(o)));
	case json_type_array: {
		size_t i, n = json_object_array_length(o);

		for (i = 0; i < n; i++)
			if (!jsonparse_finite(json_object_array_get_idx(o, i),
			        depth + 1))
				return (0);
		return (1);
	}
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (!jsonparse_finite(v, depth + 1))
				return (0);
		}
		return (1);
	}
	default:
		return (1);
	}
}

json_object *
fnwm_json_parse(const char *text, size_t len, const char **err)
{
	json_tokener *tok;
	json_object *o;
	enum json_tokener_error e;
	size_t end;

	if (len > (size_t)INT32_MAX - 1) {
		*err = "JSON text too large";
		return (NULL);
	}
	if (memchr(text, '\0', len) != NULL) {
		*err = "NUL byte in JSON text";
		return (NULL);
	}
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (tok == NULL) {
		*err = "out of memory";
		return (NULL);
	}
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)len);
	e = json_tokener_get_error(tok);
	if (o == NULL && e == json_tokener_continue) {
		/* A bare top-level number needs the terminator to finish. */
		o = json_tokener_parse_ex(tok, "", 1);
		e = json_tokener_get_error(tok);
		if (o == NULL && e == json_tokener_continue)
			e = json_tokener_error_parse_eof;
		end = len;
	} else
		end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (o == NULL || e != json_tokener_success) {
		*err = e == json_tokener_continue
		    ? "unexpected end of JSON text"
		    : json_tokener_error_desc(e);
		json_object_put(o);
		return (NULL);
	}
	if (end != len) {
		/* Only whitespace may follow. */
		for (; end < len; end++) {
			if (strchr(" \t\r\n", text[end]) == NULL) {
				*err = "trailing data after JSON text";
				json_object_put(o);
				return (NULL);
			}
		}
	}
	if (!jsonparse_finite(o, 0)) {
		*err = "non-finite number in JSON text";
		json_object_put(o);
		return (NULL);
	}
	return (o);
}

const char *
fnwm_json_str(json_object *o, size_t *len)
{
	size_t ignored;

	return (json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
	    len != NULL ? len : &ignored));
}

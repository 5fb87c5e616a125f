#!/usr/bin/env python3
"""A stateful fake of the OpenAI fine-tuning API, for rftd's tests.

Python 3 standard library only.  It serves three dialects at once:

  OpenAI          /v1/...           Authorization: Bearer KEY
  Azure v1        /openai/v1/...    api-key: KEY  (or Authorization:
                                    Bearer KEY); api-version, if given,
                                    is v1 or preview
  Azure dated     /openai/...       api-key: KEY  (or Bearer), and the query
                                    parameter api-version is required, a
                                    date (2025-04-01-preview)

A request on the Azure paths meets Azure's own rules besides OpenAI's
(the section "Azure OpenAI's rules" below, in one place): uploads must
expire, RFT takes no python grader and needs a validation file whose
examples, like the training file's, have no system message and end with
the user's, and an RFT job pauses by itself once its cost reaches
azure_pause_usd.

Endpoints (relative to the dialect prefix):

  POST   /files                                  multipart upload
  GET    /files, /files/{id}, /files/{id}/content
  DELETE /files/{id}
  POST   /fine_tuning/jobs                       create a job
  GET    /fine_tuning/jobs                       list (after, limit,
                                                 metadata[k]=v)
  GET    /fine_tuning/jobs/{id}
  POST   /fine_tuning/jobs/{id}/cancel|pause|resume
  GET    /fine_tuning/jobs/{id}/events           (after, limit)
  GET    /fine_tuning/jobs/{id}/checkpoints      (after, limit)
  POST   /fine_tuning/alpha/graders/validate
  GET    /models, /models/{id}

Control endpoints (no authentication, never under a dialect prefix):

  GET    /_fake/state          clock, jobs, creates_by_intent, uploads, faults
  GET    /_fake/requests?since=SEQ
  GET    /_fake/jobs/{id}      the job object (brought up to the fake clock)
  POST   /_fake/jobs/{id}/fail {"code", "message"} (optional) fail it now
  POST   /_fake/clock          {"advance": seconds} and/or {"speed": x}
  POST   /_fake/options        {name: value, ...}
  GET    /_fake/faults         the fault list
  POST   /_fake/faults         add one fault (see add_fault)
  DELETE /_fake/faults         clear faults
  POST   /_fake/shutdown

Control requests are not recorded in the request log.

Jobs live on a fake clock:

  fake_now = wall time at start + monotonic elapsed * speed + advanced offset

and move validating_files -> queued -> running -> succeeded | failed, or
cancelled; running -> pausing -> paused -> (resume) queued -> running.
Progress is computed lazily whenever a job is looked at, so events and
checkpoints are generated once, in order, and keep stable ids.

Error codes and messages chosen where the real API's are not documented:

  401  missing key: "You didn't provide an API key. ..."; wrong key:
       "Incorrect API key provided: sk-t****abcd." (the key is masked);
       both type invalid_request_error, code invalid_api_key, param null.
  404  unknown path: "Invalid URL (GET /v1/x)", code null.
  404  unknown job: "No such fine-tuning job: ftjob-x",
       param fine_tuning_job_id, code null.
  404  unknown file: "No such File object: file-x", param id, code null.
  400  Azure dated path without api-version: "Missing required query
       parameter: 'api-version'.", param api-version, code missing_api_version.
  400  Azure: an api-version its paths do not take: "API version not
       supported", param api-version, code BadRequest.
  400  Azure: an upload without expires_after, or with an anchor other than
       created_at: param expires_after (or expires_after[anchor]), code
       missing_required_parameter or invalid_value.
  400  Azure: a python grader in an RFT job: "Invalid grader type 'python'
       at '<param>': ...", param the grader's type, code invalid_grader; an
       RFT job without validation_file: missing_required_parameter.
  A job on Azure whose files break its data rules fails when its files
  are validated: error code invalid_training_file (or
  invalid_validation_file), "Line N: ...".
  A job on Azure pauses by itself once training_seconds / 3600 *
  azure_usd_per_hour reaches azure_pause_usd: status paused, with a warn
  event saying so; it does not pause again after a resume.
  400  validation: param names the field (dotted path, e.g.
       method.reinforcement.hyperparameters.n_epochs); codes are
       unknown_parameter ("Unrecognized request argument supplied: X"),
       missing_required_parameter, invalid_type, invalid_value,
       string_above_max_length, string_below_min_length,
       integer_above_max_value, integer_below_min_value,
       decimal_above_max_value, decimal_below_min_value,
       object_above_max_properties, invalid_grader, invalid_json.
  400  training_file / validation_file that is not an uploaded file:
       "invalid training_file: file-x" (or validation_file), param the
       field, code invalid_file.  A file with a purpose other than
       fine-tune gets the same code.
  400  upload problems: param file or purpose, code invalid_file_format
       (not .jsonl, bad JSON on a line, a line without a messages array,
       empty file).
  400  cancel of a terminal job, pause of a non-running job, resume of a
       non-paused job: type invalid_request_error, param null, code null.
  400  a grader whose name contains "reject-me":
       "Grader rejected: <name> is not allowed", code invalid_grader.
  429  daily_limit exceeded: the real daily_rate_limit_exceeded body, with
       Retry-After when the daily_retry_after option is set.
  429  max_active exceeded: "Your organization has reached the maximum of N
       active fine-tuning jobs. Wait for a job to finish before creating
       another." type requests, code rate_limit_exceeded.

The job object has one undocumented extra field, "priority": "standard".
usage_metrics is null until the job first runs, then
{"step", "total_steps", "training_seconds"}.
fine_tuned_model is ft:<model>:org-fake:<suffix>:<8 alnum>; with no suffix
the suffix part is empty (ft:<model>:org-fake::<8 alnum>), as OpenAI does.
"""

import argparse
import collections
import email.message
import email.utils
import hashlib
import http
import json
import math
import os
import random
import re
import signal
import socket
import ssl
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

ALNUM = string.ascii_letters + string.digits
ORG_ID = "org-fake"
ORG_SLUG = "org-fake"

TERMINAL = frozenset(("succeeded", "failed", "cancelled"))
FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data",
                 "evals")
METHOD_TYPES = ("supervised", "dpo", "reinforcement")
STRING_CHECK_OPS = ("eq", "ne", "like", "ilike")
SIMILARITY_METRICS = ("cosine", "fuzzy_match", "bleu", "gleu", "meteor",
                      "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5",
                      "rouge_l")
REASONING_EFFORTS = ("default", "low", "medium", "high")
SAMPLING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh",
                    "max")
MESSAGE_ROLES = ("user", "assistant", "system", "developer")
CONTENT_TYPES = ("input_text", "output_text", "input_image", "input_audio")
TOP_GRADER_TYPES = ("string_check", "text_similarity", "python",
                    "score_model", "multi")
SUB_GRADER_TYPES = ("string_check", "text_similarity", "python",
                    "score_model", "label_model")
GRADER_FIELDS = {
    "string_check": ({"type", "name", "input", "reference", "operation"},
                     ("name", "input", "reference", "operation")),
    "text_similarity": ({"type", "name", "input", "reference",
                         "evaluation_metric", "pass_threshold"},
                        ("name", "input", "reference", "evaluation_metric")),
    "python": ({"type", "name", "source", "image_tag"}, ("name", "source")),
    "score_model": ({"type", "name", "model", "input", "range",
                     "sampling_params"}, ("name", "model", "input")),
    "label_model": ({"type", "name", "model", "input", "labels",
                     "passing_labels"},
                    ("name", "model", "input", "labels", "passing_labels")),
    "multi": ({"type", "name", "graders", "calculate_output"},
              ("name", "graders", "calculate_output")),
}
SAMPLING_PARAMS = ("seed", "top_p", "temperature", "max_completions_tokens",
                   "reasoning_effort")
PYTHON_SOURCE_LIMIT = 256 * 1024
CREATE_FIELDS = ("model", "training_file", "validation_file", "suffix",
                 "seed", "metadata", "integrations", "hyperparameters",
                 "method", "trainingType")
RFT_HP = ("batch_size", "learning_rate_multiplier", "n_epochs",
          "eval_interval", "eval_samples", "compute_multiplier",
          "reasoning_effort")
BASE_MODELS = ("o4-mini-2025-04-16", "o4-mini", "gpt-4o-mini-2024-07-18",
               "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14")

FAULT_KINDS = ("status", "commit_then_status", "drop", "commit_then_drop",
               "hang", "truncate", "slow")

DEFAULT_OPTIONS = {
    "validate_secs": 2.0,
    "queue_secs": 2.0,
    "step_secs": 5.0,
    "steps": None,            # None: n_epochs ("auto" -> 2) * 5, capped at 50
    "eval_interval": 5,       # used when the hyperparameter is "auto"
    "fail_rate": 0.0,
    "daily_limit": None,
    "daily_retry_after": None,
    "max_active": None,
    "pause_delay": 1.0,
    "azure_pause_usd": 5000.0,   # Azure pauses an RFT job at this cost
    "azure_usd_per_hour": 100.0,  # what a training hour costs there
    "fault_seed": 0,
    "rng_seed": None,
    "verbose": False,
}

REQUEST_LOG_MAX = 200000


class ApiError(Exception):
    """An error answered with the standard error body."""

    def __init__(self, status, message, type_="invalid_request_error",
                 param=None, code=None, headers=None):
        Exception.__init__(self, message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self):
        return {"error": {"message": self.message, "type": self.type,
                          "param": self.param, "code": self.code}}


# ---------------------------------------------------------------------------
# Request validation helpers

def _json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a decimal"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return "an unknown type"


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, float) and math.isfinite(v)


def _err_type(param, expected, got):
    raise ApiError(400, "Invalid type for '%s': expected %s, but got %s "
                   "instead." % (param, expected, _json_type(got)),
                   param=param, code="invalid_type")


def _err_missing(param):
    raise ApiError(400, "Missing required parameter: '%s'." % param,
                   param=param, code="missing_required_parameter")


def _err_unknown(param, name):
    raise ApiError(400, "Unrecognized request argument supplied: %s" % name,
                   param=param, code="unknown_parameter")


def _quote_list(values):
    q = ["'%s'" % v for v in values]
    if len(q) <= 1:
        return "".join(q)
    return ", ".join(q[:-1]) + ", and " + q[-1]


def _err_value(param, value, allowed):
    raise ApiError(400, "Invalid value: '%s'. Supported values are: %s."
                   % (value, _quote_list(allowed)),
                   param=param, code="invalid_value")


def _check_string(param, v, min_len=None, max_len=None):
    if not isinstance(v, str):
        _err_type(param, "a string", v)
    if min_len is not None and len(v) < min_len:
        raise ApiError(400, "Invalid '%s': string too short. Expected a "
                       "string with minimum length %d, but got a string with "
                       "length %d instead." % (param, min_len, len(v)),
                       param=param, code="string_below_min_length")
    if max_len is not None and len(v) > max_len:
        raise ApiError(400, "Invalid '%s': string too long. Expected a "
                       "string with maximum length %d, but got a string with "
                       "length %d instead." % (param, max_len, len(v)),
                       param=param, code="string_above_max_length")


def _check_int_range(param, v, lo=None, hi=None):
    if not _is_int(v):
        _err_type(param, "an integer", v)
    if lo is not None and v < lo:
        raise ApiError(400, "Invalid '%s': integer below minimum value. "
                       "Expected a value greater than or equal to %d, but got "
                       "%d instead." % (param, lo, v),
                       param=param, code="integer_below_min_value")
    if hi is not None and v > hi:
        raise ApiError(400, "Invalid '%s': integer above maximum value. "
                       "Expected a value less than or equal to %d, but got "
                       "%d instead." % (param, hi, v),
                       param=param, code="integer_above_max_value")


def _check_hp_int(param, v, lo, hi=None):
    if v == "auto":
        return
    if isinstance(v, str):
        _err_value(param, v, ["auto"])
    if not _is_int(v):
        _err_type(param, "'auto' or an integer", v)
    _check_int_range(param, v, lo, hi)


def _check_hp_num(param, v, hi=None):
    """'auto' or a number > 0 (and <= hi)."""
    if v == "auto":
        return
    if isinstance(v, str):
        _err_value(param, v, ["auto"])
    if not _is_num(v):
        _err_type(param, "'auto' or a number", v)
    if v <= 0:
        raise ApiError(400, "Invalid '%s': decimal below minimum value. "
                       "Expected a value greater than 0, but got %s instead."
                       % (param, v), param=param,
                       code="decimal_below_min_value")
    if hi is not None and v > hi:
        raise ApiError(400, "Invalid '%s': decimal above maximum value. "
                       "Expected a value less than or equal to %s, but got "
                       "%s instead." % (param, hi, v), param=param,
                       code="decimal_above_max_value")


def _check_object(param, v, allowed=None):
    if not isinstance(v, dict):
        _err_type(param, "an object", v)
    if allowed is not None:
        for k in v:
            if k not in allowed:
                _err_unknown("%s.%s" % (param, k), k)


def _grader_error(param, message):
    raise ApiError(400, message, param=param, code="invalid_grader")


# ---------------------------------------------------------------------------
# calculate_output formulas of multi graders

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/^(),]))")
FORMULA_FUNCS = {
    "min": (1, None), "max": (1, None), "abs": (1, 1), "floor": (1, 1),
    "ceil": (1, 1), "exp": (1, 1), "sqrt": (1, 1), "log": (1, 1),
}


class FormulaError(ValueError):
    pass


class Formula(object):
    """Parses and evaluates a calculate_output expression."""

    def __init__(self, text, names):
        self.text = text
        self.names = set(names)
        self.toks = self._tokenize(text)
        self.pos = 0
        if not self.toks:
            raise FormulaError("the expression is empty")
        self.ast = self._expr()
        if self.pos != len(self.toks):
            raise FormulaError("unexpected '%s'" % self.toks[self.pos][1])

    @staticmethod
    def _tokenize(text):
        toks = []
        i = 0
        n = len(text)
        while i < n:
            if text[i].isspace():
                i += 1
                continue
            m = _TOKEN_RE.match(text, i)
            if not m or m.end() == i:
                raise FormulaError("unexpected character '%s'" % text[i])
            if m.group("num") is not None:
                toks.append(("num", float(m.group("num"))))
            elif m.group("id") is not None:
                toks.append(("id", m.group("id")))
            else:
                toks.append(("op", m.group("op")))
            i = m.end()
        return toks

    def _peek(self):
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def _take_op(self, ops):
        t = self._peek()
        if t is not None and t[0] == "op" and t[1] in ops:
            self.pos += 1
            return t[1]
        return None

    def _expect(self, op):
        if self._take_op((op,)) is None:
            t = self._peek()
            raise FormulaError("expected '%s' but found %s" % (
                op, "the end" if t is None else "'%s'" % (t[1],)))

    def _expr(self):
        node = self._term()
        while True:
            op = self._take_op(("+", "-"))
            if op is None:
                return node
            node = ("bin", op, node, self._term())

    def _term(self):
        node = self._unary()
        while True:
            op = self._take_op(("*", "/"))
            if op is None:
                return node
            node = ("bin", op, node, self._unary())

    def _unary(self):
        op = self._take_op(("-", "+"))
        if op == "-":
            return ("neg", self._unary())
        if op == "+":
            return self._unary()
        return self._power()

    def _power(self):
        node = self._atom()
        if self._take_op(("^",)):
            node = ("bin", "^", node, self._unary())
        return node

    def _atom(self):
        t = self._peek()
        if t is None:
            raise FormulaError("the expression ends unexpectedly")
        self.pos += 1
        if t[0] == "num":
            return ("num", t[1])
        if t[0] == "id":
            name = t[1]
            nxt = self._peek()
            if nxt == ("op", "("):
                if name not in FORMULA_FUNCS:
                    raise FormulaError("unknown function '%s'" % name)
                self.pos += 1
                args = [self._expr()]
                while self._take_op((",",)):
                    args.append(self._expr())
                self._expect(")")
                lo, hi = FORMULA_FUNCS[name]
                if len(args) < lo or (hi is not None and len(args) > hi):
                    raise FormulaError("wrong number of arguments to '%s'"
                                       % name)
                return ("call", name, args)
            if name not in self.names:
                raise FormulaError("unknown variable '%s'" % name)
            return ("var", name)
        if t == ("op", "("):
            node = self._expr()
            self._expect(")")
            return node
        raise FormulaError("unexpected '%s'" % (t[1],))

    def evaluate(self, env):
        try:
            v = self._eval(self.ast, env)
        except (ArithmeticError, ValueError):
            return None
        return v if math.isfinite(v) else None

    def _eval(self, n, env):
        k = n[0]
        if k == "num":
            return n[1]
        if k == "var":
            return float(env[n[1]])
        if k == "neg":
            return -self._eval(n[1], env)
        if k == "call":
            args = [self._eval(a, env) for a in n[2]]
            f = n[1]
            if f == "min":
                return min(args)
            if f == "max":
                return max(args)
            if f == "abs":
                return abs(args[0])
            if f == "floor":
                return float(math.floor(args[0]))
            if f == "ceil":
                return float(math.ceil(args[0]))
            if f == "exp":
                return math.exp(args[0])
            if f == "sqrt":
                return math.sqrt(args[0])
            return math.log(args[0])
        a = self._eval(n[2], env)
        b = self._eval(n[3], env)
        op = n[1]
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        return math.pow(a, b)


# ---------------------------------------------------------------------------
# Grader validation (shared by graders/validate and job create)

def _check_messages(param, msgs):
    if not isinstance(msgs, list):
        _err_type(param, "an array", msgs)
    if not msgs:
        _grader_error(param, "Invalid '%s': the input must contain at least "
                      "one message." % param)
    for i, m in enumerate(msgs):
        p = "%s[%d]" % (param, i)
        _check_object(p, m, ("role", "type", "content"))
        if "role" not in m:
            _err_missing(p + ".role")
        if m["role"] not in MESSAGE_ROLES:
            _err_value(p + ".role", m["role"], MESSAGE_ROLES)
        if "type" in m and m["type"] != "message":
            _err_value(p + ".type", m["type"], ["message"])
        if "content" not in m:
            _err_missing(p + ".content")
        c = m["content"]
        parts = c if isinstance(c, list) else [c]
        for j, part in enumerate(parts):
            pp = "%s.content" % p if not isinstance(c, list) else \
                "%s.content[%d]" % (p, j)
            if isinstance(part, str):
                continue
            if not isinstance(part, dict):
                _err_type(pp, "a string, an object or an array", part)
            if part.get("type") not in CONTENT_TYPES:
                _err_value(pp + ".type", part.get("type"), CONTENT_TYPES)


def validate_grader(g, param="grader", in_multi=False):
    """Raise ApiError(400) if the grader is not valid."""
    if not isinstance(g, dict):
        _err_type(param, "an object", g)
    t = g.get("type")
    if t is None:
        _err_missing(param + ".type")
    if t == "multi" and in_multi:
        _grader_error(param, "Invalid grader at '%s': a multi grader cannot "
                      "be nested inside another multi grader." % param)
    if t == "label_model" and not in_multi:
        _grader_error(param, "Invalid grader at '%s': label_model graders are "
                      "only allowed inside a multi grader." % param)
    allowed_types = SUB_GRADER_TYPES if in_multi else TOP_GRADER_TYPES
    if t not in allowed_types:
        _err_value(param + ".type", t, allowed_types)
    fields, required = GRADER_FIELDS[t]
    for k in g:
        if k not in fields:
            _err_unknown("%s.%s" % (param, k), k)
    for k in required:
        if g.get(k) is None:
            _err_missing("%s.%s" % (param, k))
    name = g["name"]
    _check_string(param + ".name", name, min_len=1)
    if "reject-me" in name:
        _grader_error(param + ".name", "Grader rejected: %s is not allowed"
                      % name)
    if t in ("string_check", "text_similarity"):
        _check_string(param + ".input", g["input"])
        _check_string(param + ".reference", g["reference"])
        if t == "string_check":
            if g["operation"] not in STRING_CHECK_OPS:
                _err_value(param + ".operation", g["operation"],
                           STRING_CHECK_OPS)
        else:
            if g["evaluation_metric"] not in SIMILARITY_METRICS:
                _err_value(param + ".evaluation_metric",
                           g["evaluation_metric"], SIMILARITY_METRICS)
            pt = g.get("pass_threshold")
            if pt is not None and not _is_num(pt):
                _err_type(param + ".pass_threshold", "a number", pt)
    elif t == "python":
        src = g["source"]
        _check_string(param + ".source", src)
        if len(src.encode("utf-8")) >= PYTHON_SOURCE_LIMIT:
            _grader_error(param + ".source", "Invalid '%s.source': the source "
                          "must be smaller than 256 kB." % param)
        if not re.search(r"\bdef\s+grade\s*\(", src):
            _grader_error(param + ".source", "Invalid '%s.source': the source "
                          "must define a function grade(sample, item)."
                          % param)
        if g.get("image_tag") is not None:
            _check_string(param + ".image_tag", g["image_tag"])
    elif t in ("score_model", "label_model"):
        _check_string(param + ".model", g["model"], min_len=1)
        _check_messages(param + ".input", g["input"])
        if t == "score_model":
            r = g.get("range")
            if r is not None:
                if (not isinstance(r, list) or len(r) != 2
                        or not all(_is_num(x) for x in r)):
                    _err_type(param + ".range", "an array of two numbers", r)
                if not r[0] < r[1]:
                    _grader_error(param + ".range", "Invalid '%s.range': the "
                                  "minimum must be below the maximum." % param)
            sp = g.get("sampling_params")
            if sp is not None:
                sp_param = param + ".sampling_params"
                _check_object(sp_param, sp, SAMPLING_PARAMS)
                for k in ("seed", "max_completions_tokens"):
                    if sp.get(k) is not None:
                        _check_int_range("%s.%s" % (sp_param, k), sp[k],
                                         1 if k != "seed" else None)
                for k in ("top_p", "temperature"):
                    if sp.get(k) is not None and not _is_num(sp[k]):
                        _err_type("%s.%s" % (sp_param, k), "a number", sp[k])
                re_ = sp.get("reasoning_effort")
                if re_ is not None and re_ not in SAMPLING_EFFORTS:
                    _err_value(sp_param + ".reasoning_effort", re_,
                               SAMPLING_EFFORTS)
        else:
            labels = g["labels"]
            passing = g["passing_labels"]
            for k, v in (("labels", labels), ("passing_labels", passing)):
                if (not isinstance(v, list) or not v
                        or not all(isinstance(x, str) for x in v)):
                    _err_type("%s.%s" % (param, k),
                              "a non-empty array of strings", v)
            for x in passing:
                if x not in labels:
                    _grader_error(param + ".passing_labels",
                                  "Invalid '%s.passing_labels': '%s' is not "
                                  "one of the labels." % (param, x))
    elif t == "multi":
        subs = g["graders"]
        gp = param + ".graders"
        if not isinstance(subs, dict):
            _grader_error(gp, "Invalid '%s': expected an object mapping names "
                          "to graders, but got %s instead."
                          % (gp, _json_type(subs)))
        if not subs:
            _grader_error(gp, "Invalid '%s': a multi grader needs at least "
                          "one grader." % gp)
        for key, sub in subs.items():
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                _grader_error(gp, "Invalid '%s': the key '%s' is not a valid "
                              "variable name." % (gp, key))
            if not isinstance(sub, dict):
                _grader_error("%s.%s" % (gp, key), "Invalid '%s': expected an "
                              "object mapping names to graders, but the value "
                              "of '%s' is %s." % (gp, key, _json_type(sub)))
            validate_grader(sub, "%s.%s" % (gp, key), in_multi=True)
        co = g["calculate_output"]
        cp = param + ".calculate_output"
        _check_string(cp, co, min_len=1)
        try:
            Formula(co, subs.keys())
        except FormulaError as e:
            _grader_error(cp, "Invalid '%s': %s. The formula may use the "
                          "grader keys (%s), numbers, the operators + - * / ^ "
                          "( ) and the functions min max abs floor ceil exp "
                          "sqrt log." % (cp, e, ", ".join(sorted(subs))))


def _check_response_format(param, rf):
    if rf is None:
        return
    if not isinstance(rf, dict):
        _err_type(param, "an object", rf)
    t = rf.get("type")
    if t not in ("json_schema", "json_object", "text"):
        _err_value(param + ".type", t, ("json_schema", "json_object", "text"))
    if t != "json_schema":
        return
    if "json_schema" in rf:
        js = rf["json_schema"]
        _check_object(param + ".json_schema", js)
        if "name" not in js:
            _err_missing(param + ".json_schema.name")
        if not isinstance(js.get("schema", {}), dict):
            _err_type(param + ".json_schema.schema", "an object", js["schema"])
    else:
        if "name" not in rf:
            _err_missing(param + ".name")
        if "schema" not in rf:
            _err_missing(param + ".schema")
        if not isinstance(rf["schema"], dict):
            _err_type(param + ".schema", "an object", rf["schema"])


# ---------------------------------------------------------------------------
# Azure OpenAI's rules
#
# Every rule the fake applies to requests on the Azure paths, and only
# there, from Microsoft's published v1 spec (Azure/azure-rest-api-specs,
# specification/ai/data-plane/OpenAI.v1/azure-v1-v1-generated.yaml,
# commit 2d621d46) and its RFT guide:
#
#   AzureAIFoundryModelsApiVersion    the v1 paths take an api-version of
#                                     v1 or preview (or none); the dated
#                                     paths need a dated one
#   AzureCreateFileRequestMultiPart   POST /files requires file, purpose
#                                     and expires_after {anchor:
#                                     created_at, seconds}
#   AzureFineTuneReinforcementMethod  grader: string_check,
#                                     text_similarity, score_model or
#                                     multi; no python, not even inside
#                                     multi (the RFT guide says the same)
#   RFT guide                         a training and a validation file;
#                                     no system message, and the last
#                                     message of an example the user's;
#                                     a job pauses by itself at $5,000 of
#                                     training and grading, and runs on
#                                     without a cost limit once resumed

AZURE_DATED_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


def azure_check_version(dialect, query):
    v = query.get("api-version")
    if v is None:
        return
    ok = v in ("v1", "preview") if dialect == "azure-v1" else \
        bool(AZURE_DATED_VERSION.match(v))
    if not ok:
        raise ApiError(400, "API version not supported", param="api-version",
                       code="BadRequest")


def azure_check_upload(fields):
    anchor = fields.get("expires_after[anchor]")
    seconds = fields.get("expires_after[seconds]")
    if anchor is None or seconds is None:
        _err_missing("expires_after")
    anchor = anchor[1].decode("utf-8", "replace").strip()
    if anchor != "created_at":
        _err_value("expires_after[anchor]", anchor, ["created_at"])


def azure_check_rft(param, msub, req):
    def no_python(g, p):
        if not isinstance(g, dict):
            return
        if g.get("type") == "python":
            _grader_error(p + ".type", "Invalid grader type 'python' at "
                          "'%s': reinforcement fine-tuning takes "
                          "string_check, text_similarity, score_model and "
                          "multi graders." % p)
        if g.get("type") == "multi" and isinstance(g.get("graders"), dict):
            for key, sub in g["graders"].items():
                no_python(sub, "%s.graders.%s" % (p, key))
    no_python(msub.get("grader"), param + ".grader")
    if req.get("validation_file") is None:
        _err_missing("validation_file")


def azure_data_error(content):
    """The first example that breaks the RFT data rules, in words."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    for no, line in enumerate(content.decode("utf-8", "replace")
                              .split("\n"), 1):
        if not line.strip():
            continue
        msgs = [m if isinstance(m, dict) else {}
                for m in json.loads(line).get("messages") or [{}]]
        for m in msgs:
            if m.get("role") == "system":
                return ("Line %d: system messages are not supported for "
                        "reinforcement fine-tuning." % no)
        if msgs[-1].get("role") != "user":
            return ("Line %d: the final message must have the role "
                    "'user'." % no)
    return None


# ---------------------------------------------------------------------------
# multipart/form-data

def _parse_multipart(content_type, body):
    """Return {name: (filename or None, bytes)}."""
    m = email.message.Message()
    m["content-type"] = content_type
    boundary = m.get_param("boundary")
    if m.get_content_type() != "multipart/form-data" or not boundary:
        raise ApiError(400, "Invalid Content-Type header (%s), expected "
                       "multipart/form-data with a boundary."
                       % (content_type or "none"), code="invalid_content_type")
    delim = b"--" + boundary.encode("latin-1")
    fields = {}
    chunks = body.split(delim)
    for part in chunks[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        elif part.startswith(b"\n"):
            part = part[1:]
        if part.endswith(b"\r\n"):
            part = part[:-2]
        elif part.endswith(b"\n"):
            part = part[:-1]
        sep = part.find(b"\r\n\r\n")
        if sep >= 0:
            head, content = part[:sep], part[sep + 4:]
        else:
            sep = part.find(b"\n\n")
            if sep < 0:
                continue
            head, content = part[:sep], part[sep + 2:]
        hm = email.message.Message()
        for line in head.decode("utf-8", "replace").splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                hm[k.strip()] = v.strip()
        name = hm.get_param("name", header="content-disposition")
        if name is None:
            continue
        if isinstance(name, tuple):
            name = email.utils.collapse_rfc2231_value(name)
        filename = hm.get_filename()
        fields[name] = (filename, content)
    return fields


def _validate_jsonl(content):
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "Invalid file format: the file is not valid "
                       "UTF-8.", param="file", code="invalid_file_format")
    count = 0
    for no, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise ApiError(400, "Invalid file format: line %d is not valid "
                           "JSON." % no, param="file",
                           code="invalid_file_format")
        if not isinstance(obj, dict) or not isinstance(obj.get("messages"),
                                                       list):
            raise ApiError(400, "Invalid file format: line %d has no "
                           "'messages' array." % no, param="file",
                           code="invalid_file_format")
        count += 1
    if count == 0:
        raise ApiError(400, "Invalid file format: the file contains no "
                       "examples.", param="file", code="invalid_file_format")


# ---------------------------------------------------------------------------
# State

class _Obj(object):
    pass


class _Curve(object):
    __slots__ = ("key", "name", "type", "model", "base", "plateau", "rate",
                 "lo", "hi")


def _mask_key(key):
    if len(key) > 12:
        return key[:4] + "*" * (len(key) - 8) + key[-4:]
    return key[:2] + "****"


class FakeOpenAI(object):
    """The fake server.  See the module documentation."""

    def __init__(self, api_key="sk-test", speed=1.0, host="127.0.0.1",
                 port=0, tls=None, **options):
        """`tls`: (certificate file, key file) to serve HTTPS."""
        self.api_key = api_key
        self.host = host
        self._tls = tls
        self._want_port = port
        self._lock = threading.RLock()
        self._opts = dict(DEFAULT_OPTIONS)
        self._opts.update(self._check_options(options))
        self._speed = float(speed)
        self._clock_base = time.time()
        self._mono_anchor = time.monotonic()
        self._offset = 0.0
        self._rng = random.Random(self._opts["rng_seed"]
                                  if self._opts["rng_seed"] is not None
                                  else os.urandom(16))
        self._fault_rng = random.Random(self._opts["fault_seed"])
        self._files = {}
        self._file_order = []
        self._uploads = []
        self._jobs = {}
        self._job_order = []
        self._job_pos = {}
        self._active = set()
        self._creates_by_intent = {}
        self._daily = {}
        self._faults = []
        self._fault_next = 1
        self._log = collections.deque(maxlen=REQUEST_LOG_MAX)
        self._log_total = 0
        self._httpd = None
        self._serve_thread = None
        self._stop_event = threading.Event()
        self.shutdown_requested = threading.Event()
        self.port = None
        self.url = None

    # -- life -------------------------------------------------------------

    def start(self):
        httpd = _Server((self.host, self._want_port), _Handler)
        httpd.fake = self
        if self._tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self._tls)
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.url = "%s://%s:%d" % ("https" if self._tls else "http",
                                   self.host, self.port)
        self._serve_thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
            name="openai-fake-server", daemon=True)
        self._serve_thread.start()
        return self

    def stop(self):
        httpd = self._httpd
        if httpd is None:
            return
        self._httpd = None
        self._stop_event.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_all(timeout=5.0)
        if self._serve_thread is not None:
            self._serve_thread.join(5.0)

    def __enter__(self):
        if self._httpd is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def openai_base(self):
        return self.url + "/v1"

    @property
    def azure_v1_base(self):
        return self.url + "/openai/v1"

    @property
    def azure_base(self):
        return self.url + "/openai"

    # -- clock and options -------------------------------------------------

    def now(self):
        """The fake clock, unix seconds (float)."""
        with self._lock:
            return self._now()

    def _now(self):
        return (self._clock_base
                + (time.monotonic() - self._mono_anchor) * self._speed
                + self._offset)

    def advance(self, seconds):
        """Move the fake clock forward by seconds."""
        with self._lock:
            self._offset += float(seconds)
            return self._now()

    def set_speed(self, speed):
        with self._lock:
            now = self._now()
            self._clock_base = now - self._offset
            self._mono_anchor = time.monotonic()
            self._speed = float(speed)

    @staticmethod
    def _check_options(opts):
        """Returns the options normalized; ValueError if one is bad."""
        out = {}
        for k, v in opts.items():
            if k not in DEFAULT_OPTIONS and k != "speed":
                raise ValueError("unknown option: %s" % k)
            try:
                if k in ("validate_secs", "queue_secs", "step_secs",
                         "pause_delay", "fail_rate", "speed",
                         "azure_pause_usd", "azure_usd_per_hour"):
                    v = float(v)
                    if not math.isfinite(v) or v < 0:
                        raise ValueError
                elif k in ("steps", "eval_interval", "daily_limit",
                           "max_active"):
                    if v is not None:
                        v = int(v)
                        if v < (0 if k in ("daily_limit", "max_active")
                                else 1):
                            raise ValueError
                elif k == "verbose":
                    v = bool(v)
            except (TypeError, ValueError):
                raise ValueError("bad value for option %s: %r" % (k, v))
            out[k] = v
        return out

    def set_options(self, **options):
        """Change options (the constructor's keyword arguments; also speed).

        validate_secs, queue_secs, step_secs, steps, eval_interval and
        fail_rate apply to jobs created afterwards; queue_secs also to
        resumes, pause_delay to later pauses; the rest apply at once.
        """
        options = self._check_options(options)
        with self._lock:
            if "speed" in options:
                self.set_speed(options.pop("speed"))
            self._opts.update(options)
            if "fault_seed" in options:
                self._fault_rng = random.Random(options["fault_seed"])
            if "rng_seed" in options and options["rng_seed"] is not None:
                self._rng = random.Random(options["rng_seed"])

    def options(self):
        with self._lock:
            d = dict(self._opts)
            d["speed"] = self._speed
            return d

    # -- faults --------------------------------------------------------------

    def add_fault(self, kind, path=None, method=None, count=1,
                  probability=1.0, **params):
        """Add a fault; returns its description (with an "id").

        kind: status, commit_then_status, drop, commit_then_drop, hang,
        truncate, slow.  path: a regex searched in the path after the
        dialect prefix (None: any).  method: "GET", "POST", ... or None.
        count: how many times (-1: forever).  probability: chance per
        matching request.  Parameters: status (int), error (dict merged
        into the error object), headers (dict), body (str: raw body
        instead of JSON), seconds (hang), bytes_per_sec (slow).
        """
        if kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind: %r" % (kind,))
        allowed = {"status", "error", "headers", "body", "content_type",
                   "seconds", "bytes_per_sec"}
        for k in params:
            if k not in allowed:
                raise ValueError("unknown fault parameter: %s" % k)
        if path is not None:
            re.compile(path)
        if not _is_int(count) or count == 0 or count < -1:
            raise ValueError("count must be a positive integer or -1")
        if not _is_num(probability) or not 0 <= probability <= 1:
            raise ValueError("probability must be in [0, 1]")
        if params.get("status") is not None and not _is_int(params["status"]):
            raise ValueError("status must be an integer")
        with self._lock:
            f = {"id": self._fault_next, "kind": kind,
                 "method": method.upper() if method else None, "path": path,
                 "count": count, "probability": float(probability),
                 "applied": 0}
            f.update(params)
            f["_re"] = re.compile(path) if path is not None else None
            self._fault_next += 1
            self._faults.append(f)
            return self._fault_public(f)

    @staticmethod
    def _fault_public(f):
        return dict((k, v) for k, v in f.items() if not k.startswith("_"))

    def clear_faults(self):
        with self._lock:
            self._faults = []

    def faults(self):
        with self._lock:
            return [self._fault_public(f) for f in self._faults]

    def _take_fault(self, method, sub):
        with self._lock:
            for f in self._faults:
                if f["method"] is not None and f["method"] != method:
                    continue
                if f["_re"] is not None and not f["_re"].search(sub):
                    continue
                if f["probability"] < 1.0 and \
                        self._fault_rng.random() >= f["probability"]:
                    continue
                f["applied"] += 1
                if f["count"] > 0:
                    f["count"] -= 1
                    if f["count"] == 0:
                        self._faults.remove(f)
                return dict(f)
        return None

    # -- introspection ------------------------------------------------------

    def creates_by_intent(self):
        with self._lock:
            return dict(self._creates_by_intent)

    def uploads(self):
        with self._lock:
            return [dict(u) for u in self._uploads]

    def requests(self, since=0):
        """Request log entries with seq > since (oldest first)."""
        with self._lock:
            if not self._log:
                return []
            first = self._log[0]["seq"]
            start = max(0, int(since) - first + 1)
            out = []
            for i in range(start, len(self._log)):
                out.append(dict(self._log[i]))
            return out

    def request_count(self):
        """Total API requests seen (the log keeps only the latest)."""
        with self._lock:
            return self._log_total

    def jobs(self):
        """[{id, status, metadata, created_at}] oldest first."""
        with self._lock:
            now = self._now()
            out = []
            for jid in self._job_order:
                j = self._jobs[jid]
                self._advance(j, now)
                out.append({"id": j.id, "status": j.status,
                            "metadata": _copy(j.metadata),
                            "created_at": int(j.created)})
            return out

    def job(self, job_id):
        """The full job object, or None."""
        with self._lock:
            j = self._jobs.get(job_id)
            if j is None:
                return None
            self._advance(j, self._now())
            return _copy(self._job_object(j))

    def events(self, job_id):
        """All events of a job, newest first."""
        with self._lock:
            j = self._jobs.get(job_id)
            if j is None:
                return None
            self._advance(j, self._now())
            return _copy(list(reversed(j.events)))

    def fail_job(self, job_id, code="server_error",
                 message="The job failed due to an internal error."):
        """Fail a non-terminal job now.  Returns False if not possible."""
        with self._lock:
            j = self._jobs.get(job_id)
            if j is None:
                return False
            now = self._now()
            self._advance(j, now)
            if j.status in TERMINAL:
                return False
            self._fail(j, now, code, message)
            return True

    def state(self):
        with self._lock:
            return {"clock": self._now(), "jobs": self.jobs(),
                    "creates_by_intent": self.creates_by_intent(),
                    "uploads": self.uploads(), "faults": self.faults(),
                    "request_count": self._log_total}

    # -- request log ---------------------------------------------------------

    def _log_start(self, method, path, query, auth):
        with self._lock:
            self._log_total += 1
            e = {"seq": self._log_total, "t": time.time(), "method": method,
                 "path": path, "query": query, "status": None, "auth": auth,
                 "fault": None}
            self._log.append(e)
            return e

    def _log_set(self, entry, **kw):
        with self._lock:
            entry.update(kw)

    # -- ids -----------------------------------------------------------------

    def _alnum(self, n, rng=None):
        r = rng or self._rng
        return "".join(r.choice(ALNUM) for _ in range(n))

    # -- HTTP API ----------------------------------------------------------

    def _api(self, method, dialect, sub, query, headers, body, path):
        """Returns (status, json-able payload, extra headers, raw bytes or
        None, content type)."""
        # Authentication.
        key = None
        if dialect != "openai":
            key = headers.get("api-key")
        if key is None:
            a = headers.get("Authorization")
            if a is not None:
                parts = a.split(None, 1)
                key = parts[1].strip() if len(parts) == 2 and \
                    parts[0].lower() == "bearer" else ""
        if key is None:
            raise ApiError(
                401, "You didn't provide an API key. You need to provide your "
                "API key in an Authorization header using Bearer auth (i.e. "
                "Authorization: Bearer YOUR_KEY), or as the password field "
                "(with blank username) if you're accessing the API from your "
                "browser and are prompted for a username and password. You "
                "can obtain an API key from "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key")
        if key != self.api_key:
            raise ApiError(401, "Incorrect API key provided: %s. You can find "
                           "your API key at "
                           "https://platform.openai.com/account/api-keys."
                           % _mask_key(key), code="invalid_api_key")
        if dialect == "azure-dated" and not query.get("api-version"):
            raise ApiError(400, "Missing required query parameter: "
                           "'api-version'.", param="api-version",
                           code="missing_api_version")
        if dialect != "openai":
            azure_check_version(dialect, query)

        seg = [s for s in sub.split("/") if s]
        n = len(seg)
        with self._lock:
            if n >= 1 and seg[0] == "files":
                if n == 1 and method == "POST":
                    return self._upload(headers, body, dialect)
                if n == 1 and method == "GET":
                    return self._list_files(query)
                if n == 2 and method == "GET":
                    return self._file(seg[1]).obj
                if n == 2 and method == "DELETE":
                    f = self._file(seg[1])
                    del self._files[f.id]
                    self._file_order.remove(f.id)
                    return {"id": f.id, "object": "file", "deleted": True}
                if n == 3 and seg[2] == "content" and method == "GET":
                    f = self._file(seg[1])
                    return (200, None, {}, f.content,
                            "application/octet-stream")
            elif n >= 2 and seg[0] == "fine_tuning" and seg[1] == "jobs":
                if n == 2 and method == "POST":
                    return self._create_job(_parse_json(body), dialect)
                if n == 2 and method == "GET":
                    return self._list_jobs(query)
                if n >= 3:
                    if n == 3 and method == "GET":
                        j = self._get_job(seg[2])
                        return self._job_object(j)
                    if n == 4 and method == "POST" and \
                            seg[3] in ("cancel", "pause", "resume"):
                        return self._job_action(self._get_job(seg[2]),
                                                seg[3])
                    if n == 4 and method == "GET" and seg[3] == "events":
                        return self._list_events(self._get_job(seg[2]), query)
                    if n == 4 and method == "GET" and seg[3] == "checkpoints":
                        return self._list_checkpoints(self._get_job(seg[2]),
                                                      query)
            elif seg[:4] == ["fine_tuning", "alpha", "graders", "validate"] \
                    and n == 4 and method == "POST":
                req = _parse_json(body)
                for k in req:
                    if k != "grader":
                        _err_unknown(k, k)
                if req.get("grader") is None:
                    _err_missing("grader")
                validate_grader(req["grader"], "grader")
                return {"grader": req["grader"]}
            elif n >= 1 and seg[0] == "models" and method == "GET":
                if n == 1:
                    return {"object": "list", "data": self._models()}
                mid = "/".join(seg[1:])
                for m in self._models():
                    if m["id"] == mid:
                        return m
                raise ApiError(404, "The model '%s' does not exist or you do "
                               "not have access to it." % mid, param="model",
                               code="model_not_found")
        raise _not_found(method, path)

    def _models(self):
        out = [{"id": m, "object": "model", "created": 1744761600,
                "owned_by": "system"} for m in BASE_MODELS]
        for jid in self._job_order:
            j = self._jobs[jid]
            if j.fine_tuned_model:
                out.append({"id": j.fine_tuned_model, "object": "model",
                            "created": int(j.finished_at),
                            "owned_by": ORG_ID})
        return out

    # files

    def _file(self, fid):
        f = self._files.get(fid)
        if f is None:
            raise ApiError(404, "No such File object: %s" % fid, param="id")
        return f

    def _new_file(self, filename, purpose, content, expires_at=None):
        f = _Obj()
        fid = "file-" + self._alnum(24)
        while fid in self._files:
            fid = "file-" + self._alnum(24)
        f.id = fid
        f.content = content
        f.sha256 = hashlib.sha256(content).hexdigest()
        f.obj = {"id": fid, "object": "file", "bytes": len(content),
                 "created_at": int(self._now()), "expires_at": expires_at,
                 "filename": filename, "purpose": purpose,
                 "status": "processed", "status_details": None}
        self._files[fid] = f
        self._file_order.append(fid)
        return f

    def _upload(self, headers, body, dialect="openai"):
        fields = _parse_multipart(headers.get("Content-Type", ""), body)
        if dialect != "openai":
            azure_check_upload(fields)
        if "purpose" not in fields:
            _err_missing("purpose")
        purpose = fields["purpose"][1].decode("utf-8", "replace").strip()
        if purpose not in FILE_PURPOSES:
            _err_value("purpose", purpose, FILE_PURPOSES)
        if "file" not in fields or fields["file"][0] is None:
            _err_missing("file")
        filename, content = fields["file"]
        expires_at = None
        if "expires_after[seconds]" in fields:
            try:
                secs = int(fields["expires_after[seconds]"][1])
            except ValueError:
                secs = -1
            if not 3600 <= secs <= 2592000:
                raise ApiError(400, "Invalid 'expires_after[seconds]': "
                               "expected an integer between 3600 and "
                               "2592000.", param="expires_after[seconds]",
                               code="invalid_value")
            expires_at = int(self._now()) + secs
        if purpose == "fine-tune":
            if not filename.lower().endswith(".jsonl"):
                raise ApiError(400, "Invalid file format for Fine-Tuning API. "
                               "Must be .jsonl", param="file",
                               code="invalid_file_format")
            _validate_jsonl(content)
        f = self._new_file(filename, purpose, content, expires_at)
        self._uploads.append({"id": f.id, "filename": filename,
                              "bytes": len(content), "sha256": f.sha256})
        return f.obj

    def _list_files(self, query):
        purpose = query.get("purpose")
        data = [self._files[fid].obj for fid in reversed(self._file_order)
                if purpose is None or self._files[fid].obj["purpose"] ==
                purpose]
        return {"object": "list", "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": False}

    # jobs: create

    def _check_file_ref(self, param, fid):
        _check_string(param, fid)
        f = self._files.get(fid)
        if f is None:
            raise ApiError(400, "invalid %s: %s" % (param, fid), param=param,
                           code="invalid_file")
        if f.obj["purpose"] != "fine-tune":
            raise ApiError(400, "invalid %s: %s has purpose '%s'; "
                           "fine-tuning requires purpose 'fine-tune'."
                           % (param, fid, f.obj["purpose"]), param=param,
                           code="invalid_file")

    def _create_job(self, req, dialect="openai"):
        if not isinstance(req, dict):
            _err_type("body", "an object", req)
        for k in req:
            if k not in CREATE_FIELDS:
                _err_unknown(k, k)
        if req.get("model") is None:
            _err_missing("model")
        _check_string("model", req["model"], min_len=1)
        if req.get("training_file") is None:
            _err_missing("training_file")
        self._check_file_ref("training_file", req["training_file"])
        if req.get("validation_file") is not None:
            self._check_file_ref("validation_file", req["validation_file"])
        suffix = req.get("suffix")
        if suffix is not None:
            _check_string("suffix", suffix, 1, 64)
        seed = req.get("seed")
        if seed is not None:
            _check_int_range("seed", seed, 0, 2147483647)
        md = req.get("metadata")
        if md is not None:
            _check_object("metadata", md)
            if len(md) > 16:
                raise ApiError(400, "Invalid 'metadata': too many properties. "
                               "Expected an object with at most 16 "
                               "properties, but got an object with %d "
                               "properties instead." % len(md),
                               param="metadata",
                               code="object_above_max_properties")
            for k, v in md.items():
                if len(k) > 64:
                    raise ApiError(400, "Invalid 'metadata': key too long. "
                                   "Expected a key with maximum length 64, "
                                   "but got a key with length %d instead."
                                   % len(k), param="metadata",
                                   code="string_above_max_length")
                _check_string("metadata.%s" % k, v, max_len=512)
        integ = req.get("integrations")
        if integ is not None:
            if not isinstance(integ, list):
                _err_type("integrations", "an array", integ)
            if len(integ) > 5:
                raise ApiError(400, "Invalid 'integrations': array too long. "
                               "Expected an array with maximum length 5.",
                               param="integrations",
                               code="array_above_max_length")
            for i, it in enumerate(integ):
                p = "integrations[%d]" % i
                _check_object(p, it, ("type", "wandb"))
                if it.get("type") != "wandb":
                    _err_value(p + ".type", it.get("type"), ["wandb"])
                _check_object(p + ".wandb", it.get("wandb"),
                              ("project", "name", "entity", "tags"))
                if it["wandb"].get("project") is None:
                    _err_missing(p + ".wandb.project")
        tt = req.get("trainingType")
        if tt is not None:
            _check_string("trainingType", tt, min_len=1)
        legacy_hp = req.get("hyperparameters")
        if legacy_hp is not None:
            self._check_sft_hp("hyperparameters", legacy_hp, dpo=False)

        meth = req.get("method")
        if meth is None:
            mtype = "supervised"
            msub = {"hyperparameters": dict(legacy_hp or {})}
        else:
            _check_object("method", meth, ("type",) + METHOD_TYPES)
            mtype = meth.get("type")
            if mtype is None:
                _err_missing("method.type")
            if mtype not in METHOD_TYPES:
                _err_value("method.type", mtype, METHOD_TYPES)
            for k in METHOD_TYPES:
                if k != mtype and k in meth:
                    _err_unknown("method." + k, "method." + k)
            msub = meth.get(mtype)
            if msub is None:
                msub = {}
            param = "method." + mtype
            if mtype == "reinforcement":
                _check_object(param, msub,
                              ("grader", "hyperparameters", "response_format"))
                if msub.get("grader") is None:
                    _err_missing(param + ".grader")
                validate_grader(msub["grader"], param + ".grader")
                hp = msub.get("hyperparameters")
                if hp is not None:
                    self._check_rft_hp(param + ".hyperparameters", hp)
                _check_response_format(param + ".response_format",
                                       msub.get("response_format"))
                if dialect != "openai":
                    azure_check_rft(param, msub, req)
            else:
                _check_object(param, msub, ("hyperparameters",))
                hp = msub.get("hyperparameters")
                if hp is not None:
                    self._check_sft_hp(param + ".hyperparameters", hp,
                                       dpo=(mtype == "dpo"))

        now = self._now()
        model = req["model"]
        self._check_limits(model, now)
        return self._job_object(self._make_job(req, mtype, msub, now,
                                               dialect != "openai"))

    @staticmethod
    def _check_rft_hp(param, hp):
        _check_object(param, hp, RFT_HP)
        for k, v in hp.items():
            p = "%s.%s" % (param, k)
            if k == "n_epochs":
                _check_hp_int(p, v, 1, 50)
            elif k == "batch_size":
                _check_hp_int(p, v, 1, 256)
            elif k in ("eval_interval", "eval_samples"):
                _check_hp_int(p, v, 1)
            elif k == "learning_rate_multiplier":
                _check_hp_num(p, v)
            elif k == "compute_multiplier":
                _check_hp_num(p, v, 10)
            elif k == "reasoning_effort":
                if v not in REASONING_EFFORTS:
                    _err_value(p, v, REASONING_EFFORTS)

    @staticmethod
    def _check_sft_hp(param, hp, dpo):
        allowed = ("batch_size", "learning_rate_multiplier", "n_epochs") + \
            (("beta",) if dpo else ())
        _check_object(param, hp, allowed)
        for k, v in hp.items():
            p = "%s.%s" % (param, k)
            if k == "n_epochs":
                _check_hp_int(p, v, 1, 50)
            elif k == "batch_size":
                _check_hp_int(p, v, 1, 256)
            else:
                _check_hp_num(p, v)

    def _check_limits(self, model, now):
        limit = self._opts["daily_limit"]
        day = int(now // 86400)
        if limit is not None and self._daily.get((model, day), 0) >= limit:
            hdrs = {}
            ra = self._opts["daily_retry_after"]
            if ra is not None:
                hdrs["Retry-After"] = str(ra)
            raise ApiError(429, "This fine-tune request has been "
                           "rate-limited. Your organization has reached the "
                           "maximum of %d fine-tuning requests per day for "
                           "the model '%s'."
                           % (limit, model), param=None,
                           code="daily_rate_limit_exceeded", headers=hdrs)
        mx = self._opts["max_active"]
        if mx is not None:
            for jid in list(self._active):
                self._advance(self._jobs[jid], now)
            if len(self._active) >= mx:
                raise ApiError(429, "Your organization has reached the "
                               "maximum of %d active fine-tuning jobs. Wait "
                               "for a job to finish before creating another."
                               % mx,
                               type_="requests", code="rate_limit_exceeded")

    def _make_job(self, req, mtype, msub, now, azure=False):
        o = self._opts
        j = _Obj()
        j.azure = azure and mtype == "reinforcement"
        j.auto_paused = False
        j.data_error = None
        if j.azure:
            for key, code in (("training_file", "invalid_training_file"),
                              ("validation_file", "invalid_validation_file")):
                f = self._files.get(req.get(key))
                why = azure_data_error(f.content) if f else None
                if why and j.data_error is None:
                    j.data_error = (code, why)
        jid = "ftjob-" + self._alnum(24)
        while jid in self._jobs:
            jid = "ftjob-" + self._alnum(24)
        j.id = jid
        j.rng = random.Random(jid)
        j.created = now
        j.model = req["model"]
        j.training_file = req["training_file"]
        j.validation_file = req.get("validation_file")
        j.suffix = req.get("suffix")
        j.seed = req["seed"] if req.get("seed") is not None else \
            self._rng.randint(0, 2147483647)
        j.metadata = _copy(req.get("metadata"))
        j.integrations = _copy(req.get("integrations") or [])
        j.training_type = req.get("trainingType")
        j.method_type = mtype
        j.tag = self._alnum(8, j.rng)
        hp_in = dict(msub.get("hyperparameters") or {})
        if mtype == "reinforcement":
            hp = {"batch_size": "auto", "learning_rate_multiplier": "auto",
                  "n_epochs": "auto", "eval_interval": "auto",
                  "eval_samples": "auto", "compute_multiplier": "auto",
                  "reasoning_effort": "default"}
            hp.update(hp_in)
            sub = {"hyperparameters": hp, "grader": _copy(msub["grader"]),
                   "response_format": _copy(msub.get("response_format"))}
            j.eval_id = "eval_" + "".join(j.rng.choice("0123456789abcdef")
                                          for _ in range(32))
            j.legacy_hp = None
        else:
            hp = {"batch_size": "auto", "learning_rate_multiplier": "auto",
                  "n_epochs": "auto"}
            if mtype == "dpo":
                hp["beta"] = "auto"
            hp.update(hp_in)
            sub = {"hyperparameters": hp}
            j.eval_id = None
            j.legacy_hp = dict((k, hp[k]) for k in
                               ("batch_size", "learning_rate_multiplier",
                                "n_epochs"))
        j.method = {"type": mtype, mtype: sub}
        j.hp = hp
        if o["steps"] is not None:
            total = int(o["steps"])
        else:
            ne = hp["n_epochs"] if _is_int(hp["n_epochs"]) else 2
            total = min(ne * 5, 50)
        j.total_steps = max(1, total)
        ei = hp.get("eval_interval")
        j.eval_interval = ei if _is_int(ei) else \
            max(1, int(o["eval_interval"]))
        lrm = hp["learning_rate_multiplier"]
        j.lrm = float(lrm) if _is_num(lrm) else 1.0
        j.validate_secs = float(o["validate_secs"])
        j.queue_secs = float(o["queue_secs"])
        j.step_secs = float(o["step_secs"])
        j.fail_step = None
        if o["fail_rate"] and random.Random(j.seed).random() < o["fail_rate"]:
            j.fail_step = max(1, (j.total_steps + 1) // 2)
        self._setup_curves(j)
        j.status = "validating_files"
        j.phase_t = now
        j.step = 0
        j.step_t = now
        j.started = False
        j.pause_delay = 0.0
        j.finished_at = None
        j.fine_tuned_model = None
        j.result_files = []
        j.error = None
        j.trained_tokens = None
        j.events = []
        j.event_pos = {}
        j.checkpoints = []
        j.ckpt_pos = {}
        j.ckpt_steps = set()
        j.history = []
        self._jobs[jid] = j
        self._job_pos[jid] = len(self._job_order)
        self._job_order.append(jid)
        self._active.add(jid)
        day = int(now // 86400)
        self._daily[(j.model, day)] = self._daily.get((j.model, day), 0) + 1
        intent = (j.metadata or {}).get("rftd_intent")
        if intent is not None:
            self._creates_by_intent[intent] = \
                self._creates_by_intent.get(intent, 0) + 1
        self._event(j, now, "Created fine-tuning job: %s" % jid)
        if j.validation_file:
            self._event(j, now, "Validating training file: %s and validation "
                        "file: %s" % (j.training_file, j.validation_file))
        else:
            self._event(j, now, "Validating training file: %s"
                        % j.training_file)
        self._advance(j, now)
        return j

    def _setup_curves(self, j):
        graders = []
        j.formula = None
        if j.method_type == "reinforcement":
            g = j.method["reinforcement"]["grader"]
            if g["type"] == "multi":
                for key, sub in g["graders"].items():
                    graders.append((key, sub))
                j.formula = Formula(g["calculate_output"], g["graders"].keys())
            else:
                graders.append((None, g))
        j.curves = []
        for i, (key, g) in enumerate(graders):
            r = random.Random(j.seed * 7919 + i * 104729 + 17)
            c = _Curve()
            c.key = key
            c.name = g["name"]
            c.type = g["type"]
            c.model = g.get("model") if g["type"] in ("score_model",
                                                       "label_model") else None
            c.base = 0.05 + 0.2 * r.random()
            c.plateau = 0.5 + 0.4 * r.random()
            c.rate = (0.6 + 0.8 * r.random()) * \
                max(0.2, min(3.0, math.sqrt(j.lrm)))
            rng_ = g.get("range") if g["type"] == "score_model" else None
            c.lo, c.hi = (float(rng_[0]), float(rng_[1])) if rng_ else \
                (0.0, 1.0)
            j.curves.append(c)

    # jobs: progress

    def _event(self, j, t, message, level="info", type_="message", data=None):
        eid = "ftevent-" + self._alnum(24, j.rng)
        e = {"object": "fine_tuning.job.event", "id": eid,
             "created_at": int(t), "level": level, "message": message,
             "type": type_, "data": data if data is not None else {}}
        j.event_pos[eid] = len(j.events)
        j.events.append(e)

    def _checkpoint(self, j, t, step, valid_reward):
        if step in j.ckpt_steps:
            return
        j.ckpt_steps.add(step)
        cid = "ftckpt_" + self._alnum(24, j.rng)
        name = "ft:%s:%s:%s:%s:ckpt-step-%d" % (j.model, ORG_SLUG,
                                                 j.suffix or "", j.tag, step)
        metrics = {"step": step}
        if valid_reward is not None:
            metrics["full_valid_loss"] = round(1.0 - min(1.0, valid_reward), 6)
            metrics["full_valid_mean_token_accuracy"] = round(
                min(1.0, max(0.0, valid_reward)), 6)
        c = {"object": "fine_tuning.job.checkpoint", "id": cid,
             "created_at": int(t), "fine_tuned_model_checkpoint": name,
             "fine_tuning_job_id": j.id, "metrics": metrics,
             "step_number": step}
        j.ckpt_pos[cid] = len(j.checkpoints)
        j.checkpoints.append(c)
        self._event(j, t, "Checkpoint created at step %d with Snapshot ID: %s"
                    % (step, name))

    def _advance(self, j, now):
        """Bring a job up to the fake time now."""
        while True:
            s = j.status
            if s == "validating_files":
                t = j.phase_t + j.validate_secs
                if now < t:
                    return
                if j.data_error is not None:
                    self._fail(j, t, j.data_error[0], j.data_error[1])
                    return
                j.status = "queued"
                j.phase_t = t
                self._event(j, t, "Files validated, moving job to queued "
                            "state")
            elif s == "queued":
                t = j.phase_t + j.queue_secs
                if now < t:
                    return
                j.status = "running"
                j.step_t = t
                self._event(j, t, "Fine-tuning job started" if not j.started
                            else "Fine-tuning job resumed")
                j.started = True
            elif s == "running":
                remaining = j.total_steps - j.step
                if j.step_secs <= 0:
                    k = remaining
                else:
                    k = min(remaining, int((now - j.step_t) // j.step_secs))
                for _ in range(k):
                    j.step += 1
                    j.step_t += max(0.0, j.step_secs)
                    self._emit_step(j, j.step, j.step_t)
                    if j.step == j.fail_step:
                        self._fail(j, j.step_t, "server_error",
                                   "The job failed due to an internal error.")
                        return
                    if self._azure_pauses(j):
                        return
                if j.step >= j.total_steps:
                    self._succeed(j, j.step_t)
                return
            elif s == "pausing":
                t = j.phase_t + j.pause_delay
                if now < t:
                    return
                j.status = "paused"
                j.phase_t = t
                if j.step > 0:
                    v = j.history[-1][2] if j.history else None
                    self._checkpoint(j, t, j.step, v)
                self._event(j, t, "Fine-tuning job paused")
            else:
                return

    def _azure_pauses(self, j):
        """Azure's own pause of an RFT job at its cost limit (once)."""
        cost = j.step * j.step_secs / 3600.0 * \
            self._opts["azure_usd_per_hour"]
        if not j.azure or j.auto_paused or \
                cost < self._opts["azure_pause_usd"] or \
                j.step >= j.total_steps:
            return False
        t = j.step_t
        j.auto_paused = True
        j.status = "paused"
        j.phase_t = t
        v = j.history[-1][2] if j.history else None
        self._checkpoint(j, t, j.step, v)
        self._event(j, t, "The job was paused automatically: its training "
                    "and grading cost reached $%.2f, the limit for "
                    "reinforcement fine-tuning jobs. Resume it to continue "
                    "training." % self._opts["azure_pause_usd"],
                    level="warn")
        return True

    def _rewards(self, j, step, is_eval):
        rng = random.Random(j.seed * 1000003 + step * 7 + 1)
        frac = step / float(j.total_steps)
        subs = []
        for c in j.curves:
            prog = 1.0 - math.exp(-c.rate * frac * 5.0)
            v = c.base + (c.plateau - c.base) * prog
            tr = min(1.0, max(0.0, v + rng.gauss(0.0, 0.04)))
            va = min(1.0, max(0.0, v + rng.gauss(0.0, 0.01))) if is_eval \
                else None
            tr = c.lo + (c.hi - c.lo) * tr
            if va is not None:
                va = c.lo + (c.hi - c.lo) * va
            subs.append((c, tr, va))
        if j.formula is not None:
            tr = j.formula.evaluate(dict((c.key, t) for c, t, _ in subs))
            if tr is None:
                tr = sum(t for _, t, _ in subs) / len(subs)
            va = None
            if is_eval:
                va = j.formula.evaluate(dict((c.key, v) for c, _, v in subs))
                if va is None:
                    va = sum(v for _, _, v in subs) / len(subs)
        else:
            tr, va = subs[0][1], subs[0][2]
        return tr, va, subs, rng

    def _emit_step(self, j, step, t):
        total = j.total_steps
        is_eval = step % j.eval_interval == 0 or step == total
        if j.method_type != "reinforcement":
            rng = random.Random(j.seed * 1000003 + step * 7 + 1)
            loss = 2.0 * math.exp(-3.0 * step / total) + rng.random() * 0.1
            acc = min(1.0, 0.5 + 0.45 * step / total)
            data = {"step": step, "train_loss": loss,
                    "train_mean_token_accuracy": acc, "total_steps": total}
            j.history.append((step, loss, None))
            self._event(j, t, "Step %d/%d: training loss=%.2f"
                        % (step, total, loss), type_="metrics", data=data)
            if is_eval:
                self._checkpoint(j, t, step, None)
            return
        tr, va, subs, rng = self._rewards(j, step, is_eval)
        j.history.append((step, tr, va))
        dur = j.step_secs
        parse_err = 0.0 if rng.random() < 0.8 else \
            round(rng.random() * 0.05, 4)
        scores = {"graders": []}
        usage_graders = []
        errors = []
        timing_graders = []
        mg_usage = {}
        batch = j.hp["batch_size"] if _is_int(j.hp["batch_size"]) else 16
        samples = j.hp["eval_samples"] if _is_int(j.hp["eval_samples"]) else 8
        for c, gtr, gva in subs:
            e = {"name": c.name, "type": c.type, "train_reward_mean": gtr}
            if is_eval:
                e["valid_reward_mean"] = gva
            scores["graders"].append(e)
            err = {"name": c.name, "type": c.type}
            for pre in ("train_", "valid_"):
                if pre == "valid_" and not is_eval:
                    continue
                for kind in ("other_error", "sample_parse_error",
                             "invalid_variable_error"):
                    err[pre + kind + "_mean"] = 0.0
                    err[pre + kind + "_count"] = 0.0
            errors.append(err)
            tg = {"name": c.name, "type": c.type,
                  "train_execution_latency_mean": 0.05 + rng.random() * 3}
            if is_eval:
                tg["valid_execution_latency_mean"] = 0.05 + rng.random() * 4
            timing_graders.append(tg)
            if c.model:
                pm = 200.0 + rng.random() * 80
                cm = 100.0 + rng.random() * 60
                ug = {"name": c.name, "type": c.type, "model": c.model,
                      "train_prompt_tokens_mean": pm,
                      "train_prompt_tokens_count": float(int(pm * batch * 4)),
                      "train_completion_tokens_mean": cm,
                      "train_completion_tokens_count":
                          float(int(cm * batch * 4))}
                if is_eval:
                    ug.update({"valid_prompt_tokens_mean": pm,
                               "valid_prompt_tokens_count":
                                   float(int(pm * samples * 2)),
                               "valid_completion_tokens_mean": cm,
                               "valid_completion_tokens_count":
                                   float(int(cm * samples * 2))})
                usage_graders.append(ug)
                u = mg_usage.setdefault(c.model, {
                    "eval_cached_tokens": 0, "eval_prompt_tokens": 0,
                    "train_cached_tokens": 0, "train_prompt_tokens": 0,
                    "eval_completion_tokens": 0,
                    "train_completion_tokens": 0})
                u["train_prompt_tokens"] += int(pm * batch * 4)
                u["train_completion_tokens"] += int(cm * batch * 4)
                if is_eval:
                    u["eval_prompt_tokens"] += int(pm * samples * 2)
                    u["eval_completion_tokens"] += int(cm * samples * 2)
        scores["train_reward_mean"] = tr
        if is_eval:
            scores["valid_reward_mean"] = va
        rtm = 1500.0 + rng.random() * 2500
        vrtm = 1000.0 + rng.random() * 1500
        usage_samples = {"train_reasoning_tokens_mean": rtm,
                         "train_reasoning_tokens_count":
                             float(int(rtm * batch * 4))}
        if is_eval:
            usage_samples["valid_reasoning_tokens_mean"] = vrtm
            usage_samples["valid_reasoning_tokens_count"] = \
                float(int(vrtm * samples * 2))
        eval_t = dur * 0.15 if is_eval else 0.0
        timing_step = {"eval": eval_t, "sampling": dur * 0.3,
                       "training": dur - eval_t - dur * 0.3,
                       "full_iteration": dur}
        data = {
            "step": step,
            "total_steps": total,
            "usage": {"graders": usage_graders, "samples": usage_samples},
            "errors": {"graders": errors},
            "scores": scores,
            "timing": {"step": timing_step, "graders": timing_graders},
            "train_mean_reward": tr,
            "reasoning_tokens_mean": rtm,
            "completion_tokens_mean": rtm + 40.0 + rng.random() * 20,
            "mean_unresponsive_rewards": 0.0,
            "model_graders_token_usage": mg_usage,
        }
        if is_eval:
            data["full_valid_mean_reward"] = va
            data["full_valid_mean_parse_error"] = parse_err
            data["valid_reasoning_tokens_mean"] = vrtm
            msg = ("Step %d/%d , train mean reward=%.2f, full validation mean "
                   "reward=%.2f, full validation mean parse error=%.2f"
                   % (step, total, tr, va, parse_err))
        else:
            msg = "Step %d/%d , train mean reward=%.2f" % (step, total, tr)
        self._event(j, t, msg, type_="metrics", data=data)
        if is_eval:
            self._checkpoint(j, t, step, va)

    def _succeed(self, j, t):
        j.status = "succeeded"
        j.finished_at = t
        j.fine_tuned_model = "ft:%s:%s:%s:%s" % (j.model, ORG_SLUG,
                                                  j.suffix or "", j.tag)
        if j.method_type != "reinforcement":
            j.trained_tokens = 1000 * j.total_steps
        lines = ["step,train_reward_mean,valid_reward_mean"]
        for step, tr, va in j.history:
            lines.append("%d,%s,%s" % (step, tr, "" if va is None else va))
        rf = self._new_file("step_metrics.csv", "fine-tune-results",
                            ("\n".join(lines) + "\n").encode("ascii"))
        rf.obj["created_at"] = int(t)
        j.result_files = [rf.id]
        self._active.discard(j.id)
        self._event(j, t, "New fine-tuned model created: %s"
                    % j.fine_tuned_model)
        self._event(j, t, "Usage policy evaluations completed, model is now "
                    "enabled for sampling")
        self._event(j, t, "The job has successfully completed")

    def _fail(self, j, t, code, message):
        j.status = "failed"
        j.finished_at = t
        j.error = {"code": code, "message": message, "param": None}
        self._active.discard(j.id)
        self._event(j, t, message, level="error")

    # jobs: read and act

    def _get_job(self, jid):
        j = self._jobs.get(jid)
        if j is None:
            raise ApiError(404, "No such fine-tuning job: %s" % jid,
                           param="fine_tuning_job_id")
        self._advance(j, self._now())
        return j

    def _job_object(self, j):
        running = j.status == "running"
        obj = {
            "object": "fine_tuning.job",
            "id": j.id,
            "model": j.model,
            "created_at": int(j.created),
            "finished_at": int(j.finished_at) if j.finished_at is not None
            else None,
            "fine_tuned_model": j.fine_tuned_model,
            "organization_id": ORG_ID,
            "result_files": list(j.result_files),
            "status": j.status,
            "validation_file": j.validation_file,
            "training_file": j.training_file,
            "trained_tokens": j.trained_tokens,
            "error": dict(j.error) if j.error else {},
            "user_provided_suffix": j.suffix,
            "seed": j.seed,
            "estimated_finish": int(math.ceil(
                j.step_t + (j.total_steps - j.step) * j.step_secs))
            if running else None,
            "integrations": j.integrations,
            "metadata": j.metadata,
            "usage_metrics": {"step": j.step, "total_steps": j.total_steps,
                              "training_seconds": round(
                                  j.step * j.step_secs, 3)}
            if j.started else None,
            "shared_with_openai": False,
            "eval_id": j.eval_id,
            "method": j.method,
        }
        if j.legacy_hp is not None:
            obj["hyperparameters"] = j.legacy_hp
        if j.training_type is not None:
            obj["trainingType"] = j.training_type
        obj["priority"] = "standard"
        return obj

    def _job_action(self, j, action):
        now = self._now()
        if action == "cancel":
            if j.status in TERMINAL:
                raise ApiError(400, "Job %s is already %s and cannot be "
                               "cancelled." % (j.id, j.status))
            j.status = "cancelled"
            j.finished_at = now
            self._active.discard(j.id)
            self._event(j, now, "Fine-tuning job cancelled")
        elif action == "pause":
            if j.status != "running":
                raise ApiError(400, "Job %s cannot be paused because its "
                               "status is %s; only running jobs can be "
                               "paused." % (j.id, j.status))
            j.status = "pausing"
            j.phase_t = now
            j.pause_delay = max(0.0, float(self._opts["pause_delay"]))
            self._event(j, now, "Pausing fine-tuning job")
            self._advance(j, now)
        else:
            if j.status != "paused":
                raise ApiError(400, "Job %s cannot be resumed because its "
                               "status is %s; only paused jobs can be "
                               "resumed." % (j.id, j.status))
            j.status = "queued"
            j.phase_t = now
            j.queue_secs = float(self._opts["queue_secs"])
            self._event(j, now, "Resuming fine-tuning job, moving job to "
                        "queued state")
            self._advance(j, now)
        return self._job_object(j)

    @staticmethod
    def _limit(query, default):
        v = query.get("limit")
        if v is None or v == "":
            return default
        try:
            n = int(v)
        except ValueError:
            raise ApiError(400, "Invalid type for 'limit': expected an "
                           "integer, but got a string instead.",
                           param="limit", code="invalid_type")
        _check_int_range("limit", n, 1, 100)
        return n

    def _list_jobs(self, query):
        limit = self._limit(query, 20)
        filters = []
        md_null = False
        for k, v in query.items():
            m = re.match(r"^metadata\[(.+)\]$", k)
            if m:
                filters.append((m.group(1), v))
            elif k == "metadata" and v == "null":
                md_null = True
        start = len(self._job_order) - 1
        after = query.get("after")
        if after:
            if after not in self._job_pos:
                raise ApiError(400, "Invalid 'after': no such fine-tuning "
                               "job: %s" % after, param="after",
                               code="invalid_value")
            start = self._job_pos[after] - 1
        now = self._now()
        data = []
        has_more = False
        for i in range(start, -1, -1):
            j = self._jobs[self._job_order[i]]
            md = j.metadata or {}
            if md_null and md:
                continue
            if any(md.get(k) != v for k, v in filters):
                continue
            if len(data) == limit:
                has_more = True
                break
            self._advance(j, now)
            data.append(self._job_object(j))
        return {"object": "list", "data": data, "has_more": has_more}

    def _newest_first(self, items, pos, query, default_limit, what):
        """A page of `items` (oldest first), newest first, older than the
        `after` cursor; returns (data, has_more)."""
        limit = self._limit(query, default_limit)
        start = len(items) - 1
        after = query.get("after")
        if after:
            if after not in pos:
                raise ApiError(400, "Invalid 'after': no such %s: %s"
                               % (what, after), param="after",
                               code="invalid_value")
            start = pos[after] - 1
        lo = max(-1, start - limit)
        return [items[i] for i in range(start, lo, -1)], lo >= 0

    def _list_events(self, j, query):
        data, more = self._newest_first(j.events, j.event_pos, query, 20,
                                        "event")
        return {"object": "list", "data": data, "has_more": more}

    def _list_checkpoints(self, j, query):
        data, more = self._newest_first(j.checkpoints, j.ckpt_pos, query, 10,
                                        "checkpoint")
        return {"object": "list", "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": more}

    # -- control endpoints ---------------------------------------------------

    def _control(self, method, path, query, body):
        seg = [s for s in path.split("/") if s][1:]
        if seg == ["state"] and method == "GET":
            return self.state()
        if seg == ["requests"] and method == "GET":
            try:
                since = int(query.get("since") or 0)
            except ValueError:
                raise ApiError(400, "since must be an integer", param="since")
            return self.requests(since)
        if seg == ["clock"] and method == "POST":
            req = _parse_json(body) if body else {}
            if not isinstance(req, dict):
                raise ApiError(400, "expected a JSON object")
            if req.get("speed") is not None:
                self.set_speed(req["speed"])
            if req.get("advance") is not None:
                self.advance(req["advance"])
            return {"clock": self.now(), "speed": self._speed}
        if seg == ["options"] and method == "POST":
            req = _parse_json(body)
            if not isinstance(req, dict):
                raise ApiError(400, "expected a JSON object")
            try:
                self.set_options(**req)
            except (ValueError, TypeError) as e:
                raise ApiError(400, str(e))
            return self.options()
        if seg == ["options"] and method == "GET":
            return self.options()
        if seg == ["faults"]:
            if method == "GET":
                return self.faults()
            if method == "DELETE":
                self.clear_faults()
                return {"cleared": True}
            if method == "POST":
                req = _parse_json(body)
                if not isinstance(req, dict) or "kind" not in req:
                    raise ApiError(400, "expected a JSON object with kind")
                try:
                    return self.add_fault(**req)
                except (ValueError, TypeError, re.error) as e:
                    raise ApiError(400, str(e))
        if len(seg) == 2 and seg[0] == "jobs" and method == "GET":
            j = self.job(seg[1])
            if j is None:
                raise ApiError(404, "No such fine-tuning job: %s" % seg[1])
            return j
        if len(seg) == 3 and seg[0] == "jobs" and seg[2] == "fail" and \
                method == "POST":
            req = _parse_json(body) if body else {}
            kw = dict((k, req[k]) for k in ("code", "message") if k in req)
            if not self.fail_job(seg[1], **kw):
                raise ApiError(400, "job unknown or already terminal")
            return self.job(seg[1])
        if seg == ["shutdown"] and method == "POST":
            self.shutdown_requested.set()
            return {"shutdown": True}
        raise _not_found(method, path)


def _copy(v):
    if v is None:
        return None
    return json.loads(json.dumps(v))


def _not_found(method, path):
    return ApiError(404, "Invalid URL (%s %s)" % (method, path))


def _parse_json(body):
    try:
        return json.loads(body.decode("utf-8")) if body else None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "We could not parse the JSON body of your "
                       "request. (HINT: This likely means you aren't using "
                       "your HTTP library correctly. The OpenAI API expects a "
                       "JSON payload, but what was sent was not valid JSON. "
                       "If you have trouble figuring out how to fix this, "
                       "please contact us through our help center at "
                       "help.openai.com.)", code="invalid_json")


def _split_dialect(path):
    """Returns (dialect, sub path) or (None, None)."""
    if path.startswith("/v1/") or path == "/v1":
        return "openai", path[3:] or "/"
    if path.startswith("/openai/v1/") or path == "/openai/v1":
        return "azure-v1", path[10:] or "/"
    if path.startswith("/openai/") or path == "/openai":
        return "azure-dated", path[7:] or "/"
    return None, None


# ---------------------------------------------------------------------------
# HTTP plumbing

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *a, **kw):
        self._conns = {}
        self._conn_lock = threading.Lock()
        ThreadingHTTPServer.__init__(self, *a, **kw)

    def process_request(self, request, client_address):
        t = threading.Thread(target=self._run_request,
                             args=(request, client_address), daemon=True)
        with self._conn_lock:
            self._conns[t] = request
        t.start()

    def _run_request(self, request, client_address):
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._conns.pop(threading.current_thread(), None)

    def handle_error(self, request, client_address):
        if getattr(self, "fake", None) is not None and \
                self.fake._opts.get("verbose"):
            ThreadingHTTPServer.handle_error(self, request, client_address)

    def close_all(self, timeout):
        with self._conn_lock:
            items = list(self._conns.items())
        me = threading.current_thread()
        for t, sock in items:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for t, sock in items:
            if t is me:
                continue
            t.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openai-fake/1.0"
    sys_version = ""
    timeout = 600

    def setup(self):
        BaseHTTPRequestHandler.setup(self)
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY,
                                       1)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        if self.server.fake._opts.get("verbose"):
            sys.stderr.write("openai-fake: %s - %s\n"
                             % (self.address_string(), fmt % args))

    def do_GET(self):
        self._handle()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        trailer = self.rfile.readline(65537)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                out.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(out)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _handle(self):
        fake = self.server.fake
        t0 = time.monotonic()
        split = urlsplit(self.path)
        path = split.path
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
        raw_query = split.query
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if path == "/_fake" or path.startswith("/_fake/"):
            try:
                payload = fake._control(self.command, path, query, body)
                self._send(200, _dumps(payload), {}, t0)
            except ApiError as e:
                self._send(e.status, _dumps(e.body()), e.headers, t0)
            except Exception as e:  # bad control input: say so, keep serving
                err = ApiError(400, "%s: %s" % (type(e).__name__, e))
                self._send(400, _dumps(err.body()), {}, t0)
            if fake.shutdown_requested.is_set() and path == "/_fake/shutdown":
                self.close_connection = True
                if getattr(fake, "_stop_on_shutdown", True):
                    threading.Thread(target=fake.stop, daemon=True).start()
            return

        dialect, sub = _split_dialect(path)
        if dialect == "openai":
            auth = "bearer" if "Authorization" in self.headers else (
                "api-key" if "api-key" in self.headers else None)
        else:
            auth = "api-key" if "api-key" in self.headers else (
                "bearer" if "Authorization" in self.headers else None)
        entry = fake._log_start(self.command, path, raw_query, auth)
        fault = fake._take_fault(self.command, sub) if dialect else None
        kind = fault["kind"] if fault else None
        if kind:
            fake._log_set(entry, fault=kind)

        if kind in ("drop", "hang"):
            if kind == "hang":
                fake._stop_event.wait(float(fault.get("seconds", 30)))
            self._close_now()
            return
        if kind == "status":
            self._send_fault_status(fault, 500, entry, t0)
            return

        try:
            if dialect is None:
                raise _not_found(self.command, path)
            res = fake._api(self.command, dialect, sub, query, self.headers,
                            body, path)
            if isinstance(res, tuple):
                status, _, hdrs, raw, ctype = res
                data = raw
            else:
                status, hdrs, data, ctype = 200, {}, _dumps(res), None
        except ApiError as e:
            status, hdrs, ctype = e.status, e.headers, None
            data = _dumps(e.body())
        except Exception as e:  # a bug in the fake: answer 500, keep serving
            if fake._opts.get("verbose"):
                import traceback
                traceback.print_exc()
            err = ApiError(500, "The server had an error while processing "
                           "your request: %s" % e, type_="server_error")
            status, hdrs, data, ctype = 500, {}, _dumps(err.body()), None

        if kind == "commit_then_status":
            self._send_fault_status(fault, 500, entry, t0)
            return
        if kind == "commit_then_drop":
            self._close_now()
            return
        fake._log_set(entry, status=status)
        if kind == "truncate":
            self._send(status, data, hdrs, t0, ctype, truncate=True)
            return
        if kind == "slow":
            self._send(status, data, hdrs, t0, ctype,
                       bytes_per_sec=float(fault.get("bytes_per_sec", 10)))
            return
        self._send(status, data, hdrs, t0, ctype)

    def _send_fault_status(self, fault, default, entry, t0):
        status = int(fault.get("status") or default)
        if fault.get("body") is not None:
            data = fault["body"].encode("utf-8")
            ctype = fault.get("content_type") or "text/plain; charset=utf-8"
        else:
            if status == 429:
                err = {"message": "Rate limit reached for requests",
                       "type": "requests", "param": None,
                       "code": "rate_limit_exceeded"}
            elif status >= 500:
                err = {"message": "The server had an error while processing "
                       "your request. Sorry about that!",
                       "type": "server_error", "param": None, "code": None}
            elif status == 408:
                err = {"message": "Request timed out.", "type": "timeout",
                       "param": None, "code": None}
            elif status == 409:
                err = {"message": "Conflict: the request could not be "
                       "completed.", "type": "invalid_request_error",
                       "param": None, "code": None}
            else:
                err = {"message": "Injected error %d" % status,
                       "type": "invalid_request_error", "param": None,
                       "code": None}
            err.update(fault.get("error") or {})
            data = _dumps({"error": err})
            ctype = None
        self.server.fake._log_set(entry, status=status)
        self._send(status, data, fault.get("headers") or {}, t0, ctype)

    def _close_now(self):
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, status, data, headers, t0, ctype=None, truncate=False,
              bytes_per_sec=None):
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
        ms = int((time.monotonic() - t0) * 1000)
        lines = ["HTTP/1.1 %d %s" % (status, reason),
                 "Date: " + email.utils.formatdate(usegmt=True),
                 "Content-Type: " + (ctype or "application/json"),
                 "Content-Length: %d" % len(data),
                 "x-request-id: req_%032x" % random.getrandbits(128),
                 "openai-processing-ms: %d" % ms,
                 "openai-version: 2020-10-01",
                 "openai-organization: " + ORG_ID]
        for k, v in headers.items():
            lines.append("%s: %s" % (k, v))
        if self.close_connection or truncate:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            if truncate:
                self.wfile.write(head + data[:len(data) // 2])
                self._close_now()
            elif bytes_per_sec:
                self.wfile.write(head)
                stop = self.server.fake._stop_event
                chunk = max(1, int(bytes_per_sec * 0.05))
                for i in range(0, len(data), chunk):
                    piece = data[i:i + chunk]
                    self.wfile.write(piece)
                    if stop.wait(len(piece) / bytes_per_sec):
                        self._close_now()
                        return
            else:
                self.wfile.write(head + data)
        except OSError:
            self.close_connection = True


def _dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


# ---------------------------------------------------------------------------
# Program mode

def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Fake OpenAI fine-tuning API on 127.0.0.1.")
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--lifetime", type=float, default=900.0,
                    help="exit after this many seconds (default 900)")
    ap.add_argument("--parent-pid", type=int,
                    help="exit when this process no longer exists")
    ap.add_argument("--options", default=None,
                    help="JSON object of options (see set_options)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    opts = json.loads(args.options) if args.options else {}
    if args.verbose:
        opts["verbose"] = True
    speed = opts.pop("speed", args.speed)
    srv = FakeOpenAI(api_key=args.api_key, speed=speed, port=args.port,
                     **opts)
    srv._stop_on_shutdown = False
    done = threading.Event()

    def on_signal(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    srv.start()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.port)
        os.replace(tmp, args.port_file)
    deadline = time.monotonic() + args.lifetime
    next_parent_check = time.monotonic() + 1.0
    # When the watched process is our parent, being reparented also means
    # it is gone (its pid could be reused).
    watch_ppid = (args.parent_pid is not None
                  and args.parent_pid == os.getppid())
    while not done.is_set():
        if srv.shutdown_requested.is_set():
            break
        now = time.monotonic()
        if now >= deadline:
            break
        if args.parent_pid and now >= next_parent_check:
            next_parent_check = now + 1.0
            if not _pid_alive(args.parent_pid) or (
                    watch_ppid and os.getppid() != args.parent_pid):
                break
        done.wait(0.2)
    srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

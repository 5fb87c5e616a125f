#!/usr/bin/python3
"""tiny_grpo: a tiny but genuine GRPO trainer for rftd's process backend.

The policy is a softmax over the answers seen in the training set, with
logits that are linear in a TF-IDF bag-of-tokens view of the prompt:

    logits = features(prompt) @ W        features: TF-IDF vector + a bias

On the shipped toy task ("What comes after 7?", "What is 7 + 1?", ... in
eight phrasings) that is enough to learn the answers and to generalise to
number/phrasing pairs held out of training.  Each step samples a batch of
prompts, draws a GROUP of answers per prompt from the policy, scores every
answer with the trial's grader, turns the scores into group-relative
advantages (r - mean) / (std + eps) as in GRPO, and takes one
policy-gradient step on W.

It follows the rftd run contract: the trial comes from $RFTD_TRIAL,
metrics go to $RFTD_METRICS as {"step": N, "metrics": {...}} lines,
checkpoints go to $RFTD_CHECKPOINT_DIR/step-NNNNNN/ and are announced with
{"step": N, "checkpoint": "step-NNNNNN"}, a run continues from
$RFTD_RESUME_FROM, and SIGTERM saves a checkpoint and exits with 143.
Without RFTD_* it runs by hand: see --help and examples/trainers/README.md.

Exit status: 0 done, 2 bad input (flags, trial, datasets, grader,
checkpoint), 3 failure injected by --fail-at-step, 128 + signal number
after a clean stop on SIGTERM or SIGINT.
"""

import argparse
import json
import math
import os
import re
import shutil
import signal
import sys
import time

PROG = "tiny_grpo"
EXIT_BAD_INPUT = 2
EXIT_INJECTED_FAILURE = 3

# A stop request (SIGTERM from rftd on cancel or pause, or ^C by hand) only
# sets this flag; the training loop looks at it between steps and during its
# sleeps, saves a checkpoint and exits.  The handler goes in before numpy is
# imported so that a stop during start-up is still a clean one.
stop_signal = None


def on_stop(signum, frame):
    global stop_signal
    stop_signal = signum


signal.signal(signal.SIGTERM, on_stop)
signal.signal(signal.SIGINT, on_stop)

try:
    import numpy as np
except ImportError:
    sys.stderr.write(f"{PROG}: error: numpy is not installed "
                     "(on Debian: apt-get install python3-numpy)\n")
    sys.exit(EXIT_BAD_INPUT)


class InputError(Exception):
    """Bad input of any kind: reported on stderr, exit status 2."""


HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TRAIN = os.path.join(HERE, "..", "data", "arith-train.jsonl")
DEFAULT_VALID = os.path.join(HERE, "..", "data", "arith-valid.jsonl")

DEFAULTS = {
    "learning_rate": 40.0,
    "group_size": 8,
    "batch_size": 32,
    "steps": 100,
    "eval_every": 10,
    "seed": 0,
}

# The grader used when the trial names none (or when run by hand).
DEFAULT_GRADER = {
    "type": "string_check",
    "name": "exact answer",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


# ---------------------------------------------------------------- datasets

class Example:
    """One dataset row: the prompt text, the row itself (for {{item.*}})
    and where it came from (file:line, for messages)."""

    def __init__(self, prompt, item, where):
        self.prompt = prompt
        self.item = item
        self.where = where


def message_text(content):
    """The text of a chat message: a string, or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        if parts and all(isinstance(t, str) for t in parts):
            return " ".join(parts)
    return None


def load_dataset(path):
    try:
        with open(path, "rb") as f:
            raw_lines = f.read().split(b"\n")
    except OSError as e:
        raise InputError(f"cannot read dataset {path}: {e.strerror}")
    examples = []
    for lineno, raw in enumerate(raw_lines, 1):
        where = f"{path}:{lineno}"
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise InputError(f"{where}: not valid UTF-8")
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: malformed JSON: {e.msg} "
                             f"(column {e.colno})")
        if not isinstance(row, dict):
            raise InputError(f"{where}: a row must be a JSON object")
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InputError(f"{where}: \"messages\" must be a non-empty "
                             "list")
        texts = []
        for m in messages:
            text = message_text(m.get("content")) \
                if isinstance(m, dict) else None
            if text is None:
                raise InputError(f"{where}: each message needs a text "
                                 "\"content\"")
            texts.append(text)
        examples.append(Example("\n".join(texts), row, where))
    if not examples:
        raise InputError(f"{path}: the dataset has no rows")
    return examples


def tokenize(text):
    return re.findall(r"\w+|[^\w\s]", text.lower())


# ------------------------------------------------------------------ graders

TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_]\w*)\.([\w.]+)\s*\}\}")


def template_refs(template):
    return TEMPLATE.findall(template)


def render(template, output_text, item, where):
    """Substitutes {{sample.output_text}} and {{item.<field>[.<field>...]}}."""
    def value(match):
        scope, path = match.group(1), match.group(2)
        if scope == "sample":
            return output_text
        v = item
        for key in path.split("."):
            if not isinstance(v, dict) or key not in v:
                raise InputError(f"{where}: the grader refers to "
                                 f"item.{path}, which this row lacks")
            v = v[key]
        return v if isinstance(v, str) else json.dumps(v)
    return TEMPLATE.sub(value, template)


def lcs_length(a, b):
    """Length of the longest common subsequence of two sequences."""
    if len(a) < len(b):
        a, b = b, a
    row = [0] * (len(b) + 1)
    for x in a:
        prev_diag = 0
        for j, y in enumerate(b, 1):
            prev_diag, row[j] = row[j], (prev_diag + 1 if x == y
                                         else max(row[j], row[j - 1]))
    return row[-1]


def fuzzy_match(a, b):
    """Normalised indel similarity, 2 * LCS / (len a + len b), in [0, 1]
    (the measure behind rapidfuzz's fuzz.ratio)."""
    if not a and not b:
        return 1.0
    return 2.0 * lcs_length(a, b) / (len(a) + len(b))


def rouge_tokens(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def f_measure(overlap, n_candidate, n_reference):
    if overlap == 0:
        return 0.0
    precision, recall = overlap / n_candidate, overlap / n_reference
    return 2 * precision * recall / (precision + recall)


def rouge_n(candidate, reference, n):
    """ROUGE-N F-measure over lower-cased alphanumeric tokens."""
    def grams(text):
        toks = rouge_tokens(text)
        counts = {}
        for i in range(len(toks) - n + 1):
            g = tuple(toks[i:i + n])
            counts[g] = counts.get(g, 0) + 1
        return counts
    c, r = grams(candidate), grams(reference)
    overlap = sum(min(k, r.get(g, 0)) for g, k in c.items())
    return f_measure(overlap, sum(c.values()), sum(r.values()))


def rouge_l(candidate, reference):
    """ROUGE-L F-measure (longest common token subsequence)."""
    c, r = rouge_tokens(candidate), rouge_tokens(reference)
    return f_measure(lcs_length(c, r), len(c), len(r))


STRING_CHECKS = {
    "eq": lambda i, r: i == r,
    "ne": lambda i, r: i != r,
    "like": lambda i, r: r in i,                       # i contains r
    "ilike": lambda i, r: r.lower() in i.lower(),
}

SIMILARITIES = {
    "fuzzy_match": fuzzy_match,
    "rouge_l": rouge_l,
    **{f"rouge_{n}": (lambda n: lambda c, r: rouge_n(c, r, n))(n)
       for n in range(1, 6)},
}
# Metrics of the OpenAI grader that need more than this example carries
# (tokenisers and smoothing conventions, synonym tables, embeddings).
UNSUPPORTED_SIMILARITIES = ("bleu", "gleu", "meteor", "cosine")


class Grader:
    """An OpenAI-style grader: string_check or text_similarity."""

    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise InputError("the grader must be a JSON object")
        kind = spec.get("type")
        if kind not in ("string_check", "text_similarity"):
            raise InputError(f"grader type {json.dumps(kind)} is not "
                             f"supported by {PROG} (it supports "
                             "string_check and text_similarity)")
        self.kind = kind
        self.input = self.template(spec, "input")
        self.reference = self.template(spec, "reference")
        if kind == "string_check":
            op = spec.get("operation")
            if op not in STRING_CHECKS:
                raise InputError(f"string_check operation {json.dumps(op)} "
                                 "is not one of eq, ne, like, ilike")
            check = STRING_CHECKS[op]
            self.compare = lambda i, r: 1.0 if check(i, r) else 0.0
        else:
            metric = spec.get("evaluation_metric")
            if metric in UNSUPPORTED_SIMILARITIES:
                raise InputError(f"text_similarity metric {metric} is not "
                                 f"implemented by {PROG} (it implements "
                                 f"{', '.join(sorted(SIMILARITIES))})")
            if metric not in SIMILARITIES:
                raise InputError("unknown text_similarity "
                                 f"evaluation_metric {json.dumps(metric)}")
            self.compare = SIMILARITIES[metric]

    @staticmethod
    def template(spec, field):
        t = spec.get(field)
        if not isinstance(t, str):
            raise InputError(f"the grader needs a string \"{field}\"")
        for scope, path in template_refs(t):
            if scope == "sample" and path != "output_text":
                raise InputError(f"the grader refers to {scope}.{path}; "
                                 f"{PROG} only produces sample.output_text")
            if scope not in ("sample", "item"):
                raise InputError(f"the grader refers to {scope}.{path}; "
                                 "only sample.* and item.* are known")
        return t

    def score(self, output_text, example):
        i = render(self.input, output_text, example.item, example.where)
        r = render(self.reference, output_text, example.item, example.where)
        return float(self.compare(i, r))


class RewardTable:
    """Grader scores of (example, answer) pairs, computed on first use."""

    def __init__(self, examples, answers, grader):
        self.examples, self.answers, self.grader = examples, answers, grader
        self.table = np.full((len(examples), len(answers)), np.nan)

    def lookup(self, rows, cols):
        values = self.table[rows, cols]
        for r, c in zip(*[a[np.isnan(values)] for a in (rows, cols)]):
            self.table[r, c] = self.grader.score(self.answers[c],
                                                 self.examples[r])
        return self.table[rows, cols]

    def full(self):
        rows, cols = np.indices(self.table.shape)
        return self.lookup(rows.ravel(), cols.ravel()).reshape(
            self.table.shape)


# ------------------------------------------------------------------- policy

class Policy:
    def __init__(self, train):
        docs = [tokenize(ex.prompt) for ex in train]
        self.tokens = sorted({t for d in docs for t in d})
        self.index = {t: i for i, t in enumerate(self.tokens)}
        # Inverse document frequency: a token in every prompt ("what")
        # says nothing about the answer and weighs nothing; a rare one
        # (a number) weighs the most.
        df = np.zeros(len(self.tokens))
        for d in docs:
            df[[self.index[t] for t in set(d)]] += 1
        self.idf = np.log(len(docs) / df)
        self.answers = sorted({answer_of(ex) for ex in train},
                              key=lambda a: (len(a), a))
        # Zero weights: the policy starts uniform over the answers.
        self.W = np.zeros((len(self.tokens) + 1, len(self.answers)))

    def features(self, examples):
        """TF-IDF vector of each prompt (unit length), plus a constant
        bias feature."""
        X = np.zeros((len(examples), len(self.tokens) + 1))
        for row, ex in enumerate(examples):
            for t in tokenize(ex.prompt):
                if t in self.index:           # unseen tokens are ignored
                    X[row, self.index[t]] += 1.0
        X[:, :-1] *= self.idf
        norms = np.linalg.norm(X[:, :-1], axis=1, keepdims=True)
        X[:, :-1] /= np.where(norms > 0, norms, 1.0)
        X[:, -1] = 1.0
        return X

    def probs(self, X):
        logits = X @ self.W
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


def answer_of(example):
    """What the policy may say: the row's "answer" (any JSON scalar)."""
    a = example.item.get("answer")
    if a is None or isinstance(a, (dict, list)):
        raise InputError(f"{example.where}: a training row needs an "
                         "\"answer\" (the answers the policy can give are "
                         "those of the training set)")
    return a if isinstance(a, str) else json.dumps(a)


# ------------------------------------------------------------------- config

def parse_args(argv):
    p = argparse.ArgumentParser(
        prog=PROG,
        description="A tiny GRPO trainer that learns a toy task for real "
                    "and follows the rftd run contract.  Options not given "
                    "come from the trial ($RFTD_TRIAL), then from defaults.")
    p.add_argument("--lr", type=float, metavar="RATE",
                   help="learning rate (hyperparameter learning_rate; "
                        f"default {DEFAULTS['learning_rate']})")
    p.add_argument("--group", type=int, metavar="G",
                   help="answers sampled per prompt, at least 2 "
                        f"(group_size; default {DEFAULTS['group_size']})")
    p.add_argument("--batch", type=int, metavar="B",
                   help="prompts per step (batch_size; default "
                        f"{DEFAULTS['batch_size']})")
    p.add_argument("--steps", type=int, metavar="N",
                   help=f"steps in all (steps; default {DEFAULTS['steps']})")
    p.add_argument("--eval-every", type=int, metavar="N",
                   help="evaluate and checkpoint every N steps and at the "
                        f"last (eval_every; default {DEFAULTS['eval_every']})")
    p.add_argument("--seed", type=int,
                   help="random seed (hyperparameter seed, then the trial's "
                        f"seed; default {DEFAULTS['seed']})")
    p.add_argument("--train", metavar="FILE",
                   help="training JSONL (default: the trial's training_file, "
                        "else examples/data/arith-train.jsonl)")
    p.add_argument("--valid", metavar="FILE",
                   help="validation JSONL (default: the trial's "
                        "validation_file; by hand, arith-valid.jsonl when "
                        "--train is not given either)")
    p.add_argument("--metrics", metavar="FILE",
                   help="append metrics here (default $RFTD_METRICS, "
                        "else standard output)")
    p.add_argument("--checkpoint-dir", metavar="DIR",
                   help="save checkpoints here (default "
                        "$RFTD_CHECKPOINT_DIR, else none)")
    p.add_argument("--resume-from", metavar="PATH",
                   help="continue from this checkpoint (default "
                        "$RFTD_RESUME_FROM)")
    p.add_argument("--sleep", type=float, default=0.0, metavar="SECONDS",
                   help="sleep this long after each step (default 0)")
    p.add_argument("--fail-at-step", type=int, metavar="N",
                   help="exit with status 3 when step N begins")
    return p.parse_args(argv)


def load_trial():
    path = os.environ.get("RFTD_TRIAL")
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            trial = json.load(f)
    except OSError as e:
        raise InputError(f"cannot read the trial {path}: {e.strerror}")
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"the trial {path} is not valid JSON: {e}")
    if not isinstance(trial, dict):
        raise InputError(f"the trial {path} is not a JSON object")
    return trial


def resolve(args, trial):
    """Merges flags, the trial's hyperparameters and defaults, and checks
    every value.  Returns a plain namespace-like dict."""
    hp = (trial or {}).get("hyperparameters") or {}
    if not isinstance(hp, dict):
        raise InputError("the trial's hyperparameters must be an object")

    def pick(flag, option, name, kind):
        if flag is not None:
            return flag, option
        v = hp.get(name)
        if name == "seed" and v is None and trial:
            v = trial.get("seed")
        if v is None or v == "auto":
            return DEFAULTS[name], "default"
        where = f"hyperparameter {name}"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputError(f"{where} must be a number, not {json.dumps(v)}")
        if kind is int:
            if v != int(v):
                raise InputError(f"{where} must be a whole number, not {v}")
            v = int(v)
        return kind(v), where

    c = {}
    for key, name, kind, low in (
            ("lr", "learning_rate", float, None),
            ("group", "group_size", int, 2),
            ("batch", "batch_size", int, 1),
            ("steps", "steps", int, 1),
            ("eval_every", "eval_every", int, 1),
            ("seed", "seed", int, 0)):
        option = "--" + key.replace("_", "-")
        v, where = pick(getattr(args, key), option, name, kind)
        if key == "lr":
            if not (math.isfinite(v) and v > 0):
                raise InputError(f"{where}: the learning rate must be a "
                                 f"positive number, not {v}")
        elif v < low:
            raise InputError(f"{where} must be at least {low}, not {v}")
        c[key] = v
    if not (math.isfinite(args.sleep) and args.sleep >= 0):
        raise InputError(f"--sleep must be 0 or more, not {args.sleep}")
    if args.fail_at_step is not None and args.fail_at_step < 1:
        raise InputError("--fail-at-step must be at least 1")

    known = {"learning_rate", "group_size", "batch_size", "steps",
             "eval_every", "seed"}
    for name in sorted(set(hp) - known):
        log(f"note: hyperparameter {name} means nothing to {PROG}; ignored")

    # Datasets: flags, then the trial, then (by hand) the shipped toy task.
    if args.train:
        train, valid = args.train, args.valid
    elif trial:
        train = trial.get("training_file")
        valid = args.valid or trial.get("validation_file")
        if not isinstance(train, str) or not train:
            raise InputError("the trial has no training_file")
        if valid is not None and not isinstance(valid, str):
            raise InputError("the trial's validation_file must be a path "
                             "or null")
    else:
        train, valid = DEFAULT_TRAIN, args.valid or DEFAULT_VALID
    c["train"], c["valid"] = train, valid

    grader = (trial or {}).get("grader")
    c["grader"] = Grader(DEFAULT_GRADER if grader is None else grader)

    env = os.environ.get
    c["metrics"] = args.metrics or env("RFTD_METRICS") or None
    c["checkpoint_dir"] = args.checkpoint_dir or env("RFTD_CHECKPOINT_DIR") \
        or None
    c["resume_from"] = args.resume_from or env("RFTD_RESUME_FROM") or None
    c["sleep"], c["fail_at_step"] = args.sleep, args.fail_at_step
    return c


def log(message):
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


# -------------------------------------------------------------- checkpoints

STATE_FORMAT = "tiny_grpo/1"


def checkpoint_name(step):
    return f"step-{step:06d}"


def save_checkpoint(directory, step, policy, rng, config):
    """Writes step-NNNNNN/{policy.npz,state.json} into a temporary
    directory, then renames it into place, so a reader never sees half a
    checkpoint."""
    name = checkpoint_name(step)
    final = os.path.join(directory, name)
    tmp = os.path.join(directory, f".{name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    state = {
        "format": STATE_FORMAT,
        "step": step,
        "rng": rng.bit_generator.state,
        "tokens": policy.tokens,
        "answers": policy.answers,
        "seed": config["seed"],
        "learning_rate": config["lr"],
        "group_size": config["group"],
    }
    with open(os.path.join(tmp, "policy.npz"), "wb") as f:
        np.savez(f, W=policy.W)
        f.flush()
        os.fsync(f.fileno())
    with open(os.path.join(tmp, "state.json"), "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    if os.path.exists(final):
        # A checkpoint of the same step from an earlier attempt: replace it.
        old = f"{tmp}.old"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    return name


def load_checkpoint(path, checkpoint_dir, policy, rng):
    """Restores the policy and the RNG; returns the checkpoint's step."""
    if not os.path.isabs(path) and not os.path.exists(path) and checkpoint_dir:
        path = os.path.join(checkpoint_dir, path)
    if os.path.isfile(path):
        path = os.path.dirname(path)
    try:
        with open(os.path.join(path, "state.json"), encoding="utf-8") as f:
            state = json.load(f)
        with np.load(os.path.join(path, "policy.npz")) as z:
            W = z["W"]
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"cannot resume from {path}: {e}")
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise InputError(f"cannot resume from {path}: not a {PROG} "
                         "checkpoint")
    if state.get("tokens") != policy.tokens or \
            state.get("answers") != policy.answers or \
            W.shape != policy.W.shape:
        raise InputError(f"cannot resume from {path}: it was trained on "
                         "other data (its vocabulary differs)")
    policy.W = W.astype(float)
    rng.bit_generator.state = state["rng"]
    return int(state["step"])


# ----------------------------------------------------------------- training

class MetricsSink:
    def __init__(self, path):
        try:
            self.f = open(path, "a", encoding="utf-8") if path \
                else sys.stdout
        except OSError as e:
            raise InputError(f"cannot open the metrics file {path}: "
                             f"{e.strerror}")

    def write(self, record):
        self.f.write(json.dumps(record) + "\n")
        self.f.flush()


def grpo_step(policy, X, rewards, batch_rows, group, lr, rng):
    """One GRPO update on the prompts batch_rows.  Returns the sampled
    rewards (batch x group) and the mean policy entropy."""
    Xb = X[batch_rows]                                    # B x F
    P = policy.probs(Xb)                                  # B x K
    B, K = P.shape
    # Sample G answers per prompt by inverting the cumulative distribution.
    u = rng.random((B, group))
    cdf = np.cumsum(P, axis=1)
    picks = np.minimum((u[:, :, None] > cdf[:, None, :]).sum(axis=2), K - 1)
    R = rewards.lookup(np.repeat(batch_rows, group), picks.ravel())
    R = R.reshape(B, group)
    # Group-relative advantages: each answer against its own group.
    A = (R - R.mean(axis=1, keepdims=True)) / \
        (R.std(axis=1, keepdims=True) + 1e-6)
    # d log pi(k|x) / d logits = onehot(k) - pi(.|x); sum it over the group
    # weighted by the advantages, then back through the linear layer.
    G_logits = np.zeros((B, K))
    np.add.at(G_logits, (np.repeat(np.arange(B), group), picks.ravel()),
              A.ravel())
    G_logits -= A.sum(axis=1, keepdims=True) * P
    policy.W += lr * (Xb.T @ G_logits) / (B * group)
    entropy = -(P * np.log(P + 1e-12)).sum(axis=1).mean()
    return R, entropy


def evaluate(policy, X, rewards):
    """Expected reward of the policy on each row (exact, no sampling), and
    the reward of its single most likely answer."""
    P = policy.probs(X)
    R = rewards.full()
    expected = float((P * R).sum(axis=1).mean())
    greedy = float(R[np.arange(len(R)), P.argmax(axis=1)].mean())
    return expected, greedy


def sleep_unless_stopped(seconds):
    end = time.monotonic() + seconds
    while stop_signal is None:
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


def train(c):
    train_set = load_dataset(c["train"])
    valid_set = load_dataset(c["valid"]) if c["valid"] else None
    policy = Policy(train_set)
    rng = np.random.default_rng(c["seed"])
    grader = c["grader"]

    X_train = policy.features(train_set)
    train_rewards = RewardTable(train_set, policy.answers, grader)
    if valid_set:
        X_valid = policy.features(valid_set)
        valid_rewards = RewardTable(valid_set, policy.answers, grader)

    ckpt_dir = c["checkpoint_dir"]
    if ckpt_dir:
        os.makedirs(ckpt_dir, exist_ok=True)
    step = 0
    if c["resume_from"]:
        step = load_checkpoint(c["resume_from"], ckpt_dir, policy, rng)
        log(f"resuming after step {step} from {c['resume_from']}")
    last_saved = step
    sink = MetricsSink(c["metrics"])
    log(f"{len(train_set)} training rows, "
        f"{len(valid_set) if valid_set else 'no'} validation rows, "
        f"{len(policy.answers)} answers; lr {c['lr']}, group {c['group']}, "
        f"batch {c['batch']}, steps {c['steps']}, seed {c['seed']}")

    def checkpoint():
        nonlocal last_saved
        if ckpt_dir and last_saved != step:
            name = save_checkpoint(ckpt_dir, step, policy, rng, c)
            sink.write({"step": step, "checkpoint": name})
            last_saved = step

    n = len(train_set)
    while step < c["steps"] and stop_signal is None:
        if c["fail_at_step"] == step + 1:
            log(f"failing at step {step + 1}, as --fail-at-step asks")
            return EXIT_INJECTED_FAILURE
        step += 1
        rows = rng.choice(n, size=c["batch"], replace=c["batch"] > n)
        R, entropy = grpo_step(policy, X_train, train_rewards, rows,
                               c["group"], c["lr"], rng)
        metrics = {"train_reward_mean": round(float(R.mean()), 6),
                   "policy_entropy": round(float(entropy), 6)}
        is_eval = step % c["eval_every"] == 0 or step == c["steps"]
        if is_eval and valid_set:
            expected, greedy = evaluate(policy, X_valid, valid_rewards)
            metrics["valid_reward_mean"] = round(expected, 6)
            metrics["valid_greedy_reward_mean"] = round(greedy, 6)
        sink.write({"step": step, "metrics": metrics})
        if is_eval:
            checkpoint()
        if c["sleep"]:
            sleep_unless_stopped(c["sleep"])

    if stop_signal is not None:
        checkpoint()
        log(f"stopped by signal {stop_signal} after step {step}")
        return 128 + stop_signal
    log(f"done after step {step}")
    return 0


def main(argv):
    args = parse_args(argv)
    try:
        return train(resolve(args, load_trial()))
    except InputError as e:
        log(f"error: {e}")
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

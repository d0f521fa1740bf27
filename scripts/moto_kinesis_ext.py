"""eddy's test-side extension of moto 5.2.1's Kinesis backend.

Runs moto's multi-service server with a few Kinesis behaviours changed to match
AWS's documented reshard semantics, plus fault injection for throttling tests.

    python3 moto_kinesis_ext.py [--host 127.0.0.1] [--port 0] [--auth]

Prints "EDDY_MOTO_READY port=<n>" on stdout once listening (port 0 = pick a free one).

What changes versus stock moto (all by monkeypatching moto.kinesis):
  * SplitShard/MergeShards close the parent(s) (EndingSequenceNumber set) and leave
    their records where they are; new writes route only to open shards.
  * GetRecords on a closed shard that has been read to its end returns no
    NextShardIterator and a ChildShards list.
  * Sequence numbers are stream-independent, strictly increasing, 56-digit decimals.
  * Shard iterators carry their issue time; older than EDDY_MOTO_ITERATOR_TTL
    (default 300 s) -> ExpiredIteratorException. Garbage iterator -> InvalidArgumentException.
  * ListShards: NextToken alone is accepted (AWS semantics); StreamName together with
    NextToken is rejected; ShardFilter AT_LATEST / AFTER_SHARD_ID honoured; default page 1000.
  * DescribeStreamSummary.OpenShardCount counts open shards.
  * Faults: POST /_eddy/faults (JSON rule or list), GET lists, DELETE clears.
      rule = {"op": "GetRecords", "error": "ProvisionedThroughputExceededException",
              "count": 1, "skip": 0, "shard": optional, "status": 400, "message": optional}
      {"op": ..., "raw": "<body>", "status": 200} answers with that body instead (malformed responses).
      op "PutRecords.record" fails individual PutRecords entries (partial failure).
      DynamoDB operations (GetItem, UpdateItem, Scan, ...) take rules too; their
      "stream" is the table name. Stats count them under the table name.
    EDDY_MOTO_GETRECORDS_TPS=<n> enforces n GetRecords calls per second per shard.
  * ListShards pages hold at most EDDY_MOTO_LISTSHARDS_PAGE shards (default 1000), so
    paging can be tested with a few shards.
  * Stats: GET /_eddy/stats?stream=NAME gives {"calls": {op: n}, "records_read": n} for
    that stream (records GetRecords handed out, and "records_put": PutRecords entries
    received, failed ones included); DELETE /_eddy/stats resets them.

The AWS documentation followed for resharding:
  https://docs.aws.amazon.com/streams/latest/dev/kinesis-using-sdk-java-after-resharding.html
  https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html (ChildShards,
  NextShardIterator null once a closed shard is read to its end)
  https://docs.aws.amazon.com/kinesis/latest/APIReference/API_ListShards.html
  * Unsigned Kinesis requests are routed to Kinesis (stock moto sends them to S3);
    with --auth, moto's XML 403 auth errors are rewritten as Kinesis-style JSON.
"""
import argparse
import base64
import collections
import io
import json
import os
import re
import signal
import sys
import threading
import time

from moto import settings
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.kinesis import models as km
from moto.kinesis import responses as kr
from moto.kinesis.exceptions import InvalidArgumentError, ResourceNotFoundError
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

ITERATOR_TTL = float(os.environ.get("EDDY_MOTO_ITERATOR_TTL", "300"))
TOKEN_TTL = float(os.environ.get("EDDY_MOTO_NEXTTOKEN_TTL", "300"))
GETRECORDS_TPS = int(os.environ.get("EDDY_MOTO_GETRECORDS_TPS", "0"))
LISTSHARDS_PAGE = int(os.environ.get("EDDY_MOTO_LISTSHARDS_PAGE", "1000"))
DEFAULT_REGION = os.environ.get("EDDY_MOTO_REGION", "us-east-1")
TARGET_PREFIX = "Kinesis_20131202."
DYNAMODB_PREFIX = "DynamoDB_20120810."

BIG_LOCK = threading.RLock()  # moto's Kinesis models are not thread-safe; serialise all requests


def _err(error_type, message, status=400):
    e = JsonRESTError(error_type, message)
    e.code = status
    return e


# ---------------------------------------------------------------- sequence numbers
class _SeqGen:
    def __init__(self, start):
        self._next, self._lock = start, threading.Lock()

    def take(self):
        with self._lock:
            n = self._next
            self._next += 1
            return n

    def peek(self):
        with self._lock:
            return self._next


SEQ = _SeqGen(49_600_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000)

_orig_shard_init = km.Shard.__init__


def _shard_init(self, *a, **kw):
    _orig_shard_init(self, *a, **kw)
    self.starting_seq = SEQ.peek()
    self.ending_seq = None


def _shard_put_record(self, partition_key, data, explicit_hash_key):
    seq = SEQ.take()
    self.records[seq] = km.Record(partition_key, data, seq, explicit_hash_key)
    return str(seq)


def _shard_close(self):
    if self.is_open:
        self.is_open = False
        self.ending_seq = SEQ.take()  # > every record in the shard, like AWS's EndingSequenceNumber


def _shard_to_json(self):
    out = {
        "ShardId": self.shard_id,
        "HashKeyRange": {"StartingHashKey": str(self.starting_hash), "EndingHashKey": str(self.ending_hash)},
        "SequenceNumberRange": {"StartingSequenceNumber": str(self.starting_seq)},
    }
    if self.parent:
        out["ParentShardId"] = self.parent
    if self.adjacent_parent:
        out["AdjacentParentShardId"] = self.adjacent_parent
    if not self.is_open:
        out["SequenceNumberRange"]["EndingSequenceNumber"] = str(self.ending_seq)
    return out


# ---------------------------------------------------------------- resharding
def _next_index(stream):
    return max(s._shard_id for s in stream.shards.values()) + 1


def _split_shard(self, shard_to_split, new_starting_hash_key):
    new_key = int(new_starting_hash_key)
    shard = self.shards[shard_to_split]
    if not shard.is_open:
        raise InvalidArgumentError(f"Shard {shard.shard_id} in stream {self.stream_name} under account "
                                   f"{self.account_id} has already been merged or split, and thus is not eligible for merging or splitting.")
    if not (shard.starting_hash < new_key <= shard.ending_hash):
        raise InvalidArgumentError(f"NewStartingHashKey {new_key} used in SplitShard() on shard {shard.shard_id} "
                                   f"in stream {self.stream_name} is outside the shard's hash key range.")
    idx = _next_index(self)
    _shard_close(shard)  # close first: children's StartingSequenceNumber > parent's EndingSequenceNumber
    a = km.Shard(idx, shard.starting_hash, new_key - 1, parent=shard.shard_id)
    b = km.Shard(idx + 1, new_key, shard.ending_hash, parent=shard.shard_id)
    self.shards[a.shard_id], self.shards[b.shard_id] = a, b
    self.shard_count = sum(1 for s in self.shards.values() if s.is_open)


def _merge_shards(self, shard_to_merge, adjacent_shard_to_merge):
    s1, s2 = self.shards[shard_to_merge], self.shards[adjacent_shard_to_merge]
    if not (s1.is_open and s2.is_open):
        raise InvalidArgumentError("Shards must both be open to be merged.")
    lo, hi = sorted((s1, s2), key=lambda s: s.starting_hash)
    if lo.ending_hash + 1 != hi.starting_hash:
        raise InvalidArgumentError(f"Shards {shard_to_merge} and {adjacent_shard_to_merge} in stream "
                                   f"{self.stream_name} are not adjacent.")
    idx = _next_index(self)
    _shard_close(s1)
    _shard_close(s2)
    child = km.Shard(idx, lo.starting_hash, hi.ending_hash, parent=s1.shard_id, adjacent_parent=s2.shard_id)
    self.shards[child.shard_id] = child
    self.shard_count = sum(1 for s in self.shards.values() if s.is_open)


_orig_get_shard_for_key = km.Stream.get_shard_for_key


def _get_shard_for_key(self, partition_key, explicit_hash_key):
    _orig_get_shard_for_key(_KeyOnly(), partition_key, explicit_hash_key)  # moto's argument checks only
    if explicit_hash_key:
        key = int(explicit_hash_key)
    else:
        key = int(km.md5_hash(partition_key.encode("utf-8")).hexdigest(), 16)
    for s in self.shards.values():
        if s.is_open and s.starting_hash <= key <= s.ending_hash:  # inclusive end (moto uses <)
            return s
    raise InvalidArgumentError(f"No open shard covers hash key {key}")


class _KeyOnly:
    shards = {}


_orig_summary = km.Stream.to_json_summary


def _to_json_summary(self):
    out = _orig_summary(self)
    out["StreamDescriptionSummary"]["OpenShardCount"] = sum(1 for s in self.shards.values() if s.is_open)
    return out


# ---------------------------------------------------------------- iterators
def _enc(obj):
    return base64.b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()


def _dec(token, what):
    try:
        return json.loads(base64.b64decode(token.encode(), validate=True))
    except Exception:
        raise InvalidArgumentError(f"Invalid {what}.")


def _compose_iterator(stream, shard, position):
    return _enc({"s": stream.stream_name, "h": shard.shard_id, "p": str(position), "t": time.time()})


def _get_shard_iterator(self, stream_arn, stream_name, shard_id, shard_iterator_type,
                        starting_sequence_number, at_timestamp):
    stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    if shard_id not in stream.shards:
        raise ResourceNotFoundError(f"Shard {shard_id} in stream {stream.stream_name} under account "
                                    f"{self.account_id} does not exist")
    shard = stream.shards[shard_id]
    t = shard_iterator_type
    if t in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        if not starting_sequence_number:
            raise InvalidArgumentError(f"StartingSequenceNumber is required for {t}.")
        n = int(starting_sequence_number)
        pos = n - 1 if t == "AT_SEQUENCE_NUMBER" else n
    elif t == "TRIM_HORIZON":
        pos = 0
    elif t == "LATEST":
        pos = shard.get_max_sequence_number() if shard.is_open else shard.ending_seq
    elif t == "AT_TIMESTAMP":
        if at_timestamp is None:
            raise InvalidArgumentError("Timestamp is required for AT_TIMESTAMP.")
        pos = shard.get_sequence_number_at(float(at_timestamp))
    else:
        raise InvalidArgumentError(f"Invalid ShardIteratorType: {t}")
    return _compose_iterator(stream, shard, pos)


_tps_log = collections.defaultdict(collections.deque)


def _get_records(self, stream_arn, shard_iterator, limit):
    it = _dec(shard_iterator, "ShardIterator")
    age = time.time() - it["t"]
    if age > ITERATOR_TTL:
        raise _err("ExpiredIteratorException",
                   f"Iterator expired. The iterator was created at time {it['t']:.3f} while right now it is "
                   f"{time.time():.3f} which is further in the future than the tolerated delay of "
                   f"{int(ITERATOR_TTL * 1000)} milliseconds.")
    if limit is not None and not (1 <= int(limit) <= 10000):
        raise InvalidArgumentError("Limit must be between 1 and 10000.")
    stream = self.describe_stream(stream_arn=stream_arn, stream_name=it["s"])
    shard = stream.get_shard(it["h"])
    if GETRECORDS_TPS:
        q, now = _tps_log[(stream.arn, shard.shard_id)], time.monotonic()
        while q and now - q[0] >= 1.0:
            q.popleft()
        if len(q) >= GETRECORDS_TPS:
            raise _err("ProvisionedThroughputExceededException",
                       f"Rate exceeded for shard {shard.shard_id} in stream {stream.stream_name} under account {self.account_id}.")
        q.append(now)
    records, last, mbl = shard.get_records(it["p"], limit)
    STATS.read(stream.stream_name, len(records))
    child_shards = None
    drained = not any(seq > last for seq in shard.records)
    if not shard.is_open and drained:
        next_it, mbl = None, 0
        child_shards = [
            {"ShardId": c.shard_id,
             "ParentShards": [p for p in (c.parent, c.adjacent_parent) if p],
             "HashKeyRange": {"StartingHashKey": str(c.starting_hash), "EndingHashKey": str(c.ending_hash)}}
            for c in stream.shards.values() if shard.shard_id in (c.parent, c.adjacent_parent)]
    else:
        next_it = _compose_iterator(stream, shard, last)
    return next_it, records, mbl, child_shards


def _resp_get_records(self):
    next_it, records, mbl, child_shards = self.kinesis_backend.get_records(
        self._get_param("StreamARN"), self._get_param("ShardIterator"), self._get_param("Limit"))
    out = {"Records": [r.to_json() for r in records], "MillisBehindLatest": mbl}
    if next_it is not None:
        out["NextShardIterator"] = next_it
    if child_shards is not None:
        out["ChildShards"] = child_shards
    return ActionResult(out)


# ---------------------------------------------------------------- PutRecords partial failure
def _put_records(self, stream_arn, stream_name, records):
    stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    if len(records) > 500:
        raise km.TooManyRecords
    STATS.put(stream.stream_name, len(records))
    sizes = [len(base64.b64decode(r.get("Data", ""))) + len(r.get("PartitionKey", "")) for r in records]
    if sum(sizes) > 5 * 1024 * 1024:
        raise km.TotalRecordsSizeExceedsLimit
    for i, n in enumerate(sizes):
        if n > 1024 * 1024:
            raise km.RecordSizeExceedsLimit(position=i + 1)
    resp = {"FailedRecordCount": 0, "Records": []}
    for r in records:
        shard = stream.get_shard_for_key(r.get("PartitionKey"), r.get("ExplicitHashKey"))
        rule = FAULTS.take("PutRecords.record", shard.shard_id, stream.stream_name)
        if rule:
            code = rule.get("error", "ProvisionedThroughputExceededException")
            msg = rule.get("message") or (
                "Internal Service Failure" if code == "InternalFailure" else
                f"Rate exceeded for shard {shard.shard_id} in stream {stream.stream_name} under account {self.account_id}.")
            resp["FailedRecordCount"] += 1
            resp["Records"].append({"ErrorCode": code, "ErrorMessage": msg})
            continue
        seq, sid = stream.put_record(r.get("PartitionKey"), r.get("ExplicitHashKey"), r.get("Data"))
        resp["Records"].append({"SequenceNumber": seq, "ShardId": sid})
    return resp


# ---------------------------------------------------------------- ListShards
def _resp_list_shards(self):
    name, arn = self._get_param("StreamName"), self._get_param("StreamARN")
    token, excl = self._get_param("NextToken"), self._get_param("ExclusiveStartShardId")
    max_results = self._get_param("MaxResults") or 1000
    filt = self._get_param("ShardFilter")
    if token:
        if name or excl or self._get_param("StreamCreationTimestamp"):
            raise InvalidArgumentError("NextToken cannot be combined with StreamName, ExclusiveStartShardId "
                                       "or StreamCreationTimestamp.")
        tok = _dec(token, "NextToken")
        if time.time() - tok["t"] > TOKEN_TTL:
            raise _err("ExpiredNextTokenException", "The NextToken has expired.")
        name, arn, after, filt = tok["s"], None, tok["a"], tok["f"]
    else:
        after = excl
    if not (1 <= int(max_results) <= 10000):
        raise InvalidArgumentError("MaxResults must be between 1 and 10000.")
    max_results = min(int(max_results), 1000, LISTSHARDS_PAGE)
    stream = self.kinesis_backend.describe_stream(stream_arn=arn, stream_name=name)
    shards = sorted(stream.shards.values(), key=lambda s: s.shard_id)
    if filt:
        ftype = filt.get("Type")
        if ftype == "AT_LATEST":
            shards = [s for s in shards if s.is_open]
        elif ftype == "AFTER_SHARD_ID":
            after = max(after or "", filt.get("ShardId") or "")
        # AT/FROM_TRIM_HORIZON, AT/FROM_TIMESTAMP: nothing is ever trimmed here -> all shards
    if after:
        shards = [s for s in shards if s.shard_id > after]
    page, rest = shards[:max_results], shards[max_results:]
    out = {"Shards": [s.to_json() for s in page]}
    if rest:
        out["NextToken"] = _enc({"s": stream.stream_name, "a": page[-1].shard_id, "f": filt, "t": time.time()})
    return ActionResult(out)


# ---------------------------------------------------------------- fault rules
class _Faults:
    def __init__(self):
        self.rules, self.lock = [], threading.Lock()

    def add(self, rules):
        rules = rules if isinstance(rules, list) else [rules]
        # Tests share one server: a rule that names no stream would hit
        # whichever test calls next, so every rule must name its stream.
        for r in rules:
            if not r.get("stream"):
                raise ValueError(f"fault rule {json.dumps(r)} names no stream")
        with self.lock:
            for r in rules:
                r.setdefault("count", 1)
                r.setdefault("skip", 0)
                self.rules.append(r)

    def take(self, op, shard=None, stream=None):
        with self.lock:
            for r in self.rules:
                if r["op"] != op or r.get("shard") not in (None, shard) or r.get("stream") not in (None, stream):
                    continue
                if r["skip"] > 0:
                    r["skip"] -= 1
                    return None
                r["count"] -= 1
                if r["count"] <= 0:
                    self.rules.remove(r)
                return r
        return None


FAULTS = _Faults()


class _Stats:
    """Calls per operation and records handed out, per stream."""
    def __init__(self):
        self.calls, self.records, self.puts = collections.Counter(), collections.Counter(), collections.Counter()
        self.lock = threading.Lock()

    def call(self, op, stream):
        with self.lock:
            self.calls[(stream, op)] += 1

    def read(self, stream, n):
        with self.lock:
            self.records[stream] += n

    def put(self, stream, n):
        with self.lock:
            self.puts[stream] += n

    def of(self, stream):
        with self.lock:
            return {"calls": {op: n for (s, op), n in self.calls.items() if s == stream},
                    "records_read": self.records[stream], "records_put": self.puts[stream]}

    def reset(self):
        with self.lock:
            self.calls.clear()
            self.records.clear()
            self.puts.clear()


STATS = _Stats()


def apply_patches():
    km.Shard.__init__ = _shard_init
    km.Shard.put_record = _shard_put_record
    km.Shard.to_json = _shard_to_json
    km.Stream.split_shard = _split_shard
    km.Stream.merge_shards = _merge_shards
    km.Stream.get_shard_for_key = _get_shard_for_key
    km.Stream.to_json_summary = _to_json_summary
    km.KinesisBackend.get_shard_iterator = _get_shard_iterator
    km.KinesisBackend.get_records = _get_records
    km.KinesisBackend.put_records = _put_records
    kr.KinesisResponse.get_records = _resp_get_records
    kr.KinesisResponse.list_shards = _resp_list_shards


# ---------------------------------------------------------------- WSGI front
_AUTH_MAP = {  # moto XML code -> (Kinesis __type, message)
    "SignatureDoesNotMatch": ("InvalidSignatureException", "The request signature we calculated does not match "
                              "the signature you provided. Check your AWS Secret Access Key and signing method."),
    "InvalidClientTokenId": ("UnrecognizedClientException", "The security token included in the request is invalid."),
    "AccessDenied": ("AccessDeniedException", None),
}


def _json_reply(start_response, status, error_type, message):
    body = json.dumps({"__type": error_type, "message": message}).encode()
    reason = {400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error", 503: "Service Unavailable"}
    start_response(f"{status} {reason.get(status, 'Error')}",
                   [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body))),
                    ("x-amzn-RequestId", "eddy-fault")])
    return [body]


class Front:
    def __init__(self, inner, require_auth):
        self.inner, self.require_auth = inner, require_auth

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if path.startswith("/_eddy/faults"):
            return self._faults(environ, start_response, body)
        if path.startswith("/_eddy/stats"):
            return self._stats(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(DYNAMODB_PREFIX):
            return self._dynamodb(environ, start_response, target[len(DYNAMODB_PREFIX):], body)
        if not target.startswith(TARGET_PREFIX):
            with BIG_LOCK:
                return self.inner(environ, start_response)
        op = target[len(TARGET_PREFIX):]
        if "HTTP_AUTHORIZATION" not in environ:
            if self.require_auth:
                return _json_reply(start_response, 400, "MissingAuthenticationTokenException", "Missing Authentication Token")
            environ["HTTP_AUTHORIZATION"] = (  # only so moto's dispatcher routes to Kinesis
                f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20000101/{DEFAULT_REGION}/kinesis/aws4_request, "
                "SignedHeaders=host, Signature=0")
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        shard, stream = req.get("ShardId"), req.get("StreamName")
        if op == "GetRecords":
            try:
                it = json.loads(base64.b64decode(req.get("ShardIterator", "")))
                shard, stream = it["h"], it["s"]
            except Exception:
                pass
        if stream is None and req.get("NextToken"):
            try:
                stream = _dec(req["NextToken"], "NextToken")["s"]
            except Exception:
                pass
        STATS.call(op, stream)
        rule = FAULTS.take(op, shard, stream)
        if rule and "raw" in rule:
            # A malformed answer: whatever body the test asks for.
            raw = rule["raw"].encode()
            start_response(f"{int(rule.get('status', 200))} Fault", [("Content-Type", "application/x-amz-json-1.1"),
                                                                     ("Content-Length", str(len(raw)))])
            return [raw]
        if rule:
            return _json_reply(start_response, int(rule.get("status", 400)), rule["error"],
                               rule.get("message") or f"Injected {rule['error']} for {op}"
                               + (f" on shard {shard}" if shard else "") + ".")
        captured = {}

        def sr(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        with BIG_LOCK:
            chunks = list(self.inner(environ, sr))
        status = captured["status"]
        if status.startswith("403") or status.startswith("401"):
            text = b"".join(chunks).decode("utf-8", "replace")
            m = re.search(r"<Code>([^<]+)</Code>", text)
            if m and m.group(1) in _AUTH_MAP:
                etype, msg = _AUTH_MAP[m.group(1)]
                if msg is None:
                    mm = re.search(r"<Message>([^<]+)</Message>", text)
                    msg = mm.group(1) if mm else "Access denied"
                return _json_reply(start_response, 400, etype, msg)
        start_response(status, captured["headers"])
        return chunks

    def _dynamodb(self, environ, start_response, op, body):
        """DynamoDB calls (a KCL lease table): counted and open to fault rules
        per table, whose "stream" names the table."""
        try:
            table = json.loads(body or b"{}").get("TableName")
        except ValueError:
            table = None
        STATS.call(op, table)
        rule = FAULTS.take(op, None, table)
        if rule:
            return _json_reply(start_response, int(rule.get("status", 400)),
                               "com.amazonaws.dynamodb.v20120810#" + rule["error"],
                               rule.get("message") or f"Injected {rule['error']} for {op}.")
        with BIG_LOCK:
            return self.inner(environ, start_response)

    def _stats(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "DELETE":
            STATS.reset()
            out = b"{}"
        else:
            query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
            out = json.dumps(STATS.of(query.get("stream"))).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
        return [out]

    def _faults(self, environ, start_response, body):
        method = environ["REQUEST_METHOD"]
        if method == "POST":
            try:
                FAULTS.add(json.loads(body))
            except ValueError as e:
                out = json.dumps({"error": str(e)}).encode()
                start_response("400 Bad Request", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
                return [out]
        elif method == "DELETE":
            with FAULTS.lock:
                FAULTS.rules.clear()
        with FAULTS.lock:
            out = json.dumps(FAULTS.rules).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
        return [out]


def seed_credentials(access_key, secret_key, account_id="123456789012"):
    """Create IAM user 'eddy' with a fixed key pair allowed kinesis:* (for --auth mode)."""
    from moto.iam.models import iam_backends
    iam = iam_backends[account_id]["aws"]
    iam.create_user(DEFAULT_REGION, "eddy")
    key = iam.create_access_key("eddy")
    iam.access_keys.pop(key.physical_resource_id, None)
    key.access_key_id, key.secret_access_key = access_key, secret_key
    iam.access_keys[key.physical_resource_id] = key
    iam.put_user_policy("eddy", "kinesis-all", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}]}))


def _die_with_parent():
    """Whoever started the server may have SIGTERM blocked in the mask its
    children inherit, or may die without stopping it: take SIGTERM, SIGINT
    and SIGHUP back, and exit once the parent process is gone (polled:
    PR_SET_PDEATHSIG would fire when the parent's starting *thread* ends)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    for signo in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signo, lambda *_: os._exit(0))
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv=None):
    _die_with_parent()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--auth", action="store_true", help="verify SigV4 against a seeded IAM user")
    args = p.parse_args(argv)
    apply_patches()
    if args.auth:
        seed_credentials(os.environ.get("EDDY_MOTO_ACCESS_KEY", "AKIAEDDYTEST00000001"),
                         os.environ.get("EDDY_MOTO_SECRET_KEY", "eddy/test+secret"))
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    from werkzeug.serving import make_server
    app = Front(DomainDispatcherApplication(create_backend_app), require_auth=args.auth)
    server = make_server(args.host, args.port, app, threaded=True)
    print(f"EDDY_MOTO_READY port={server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])

"""Hypothesis fuzz of every endpoint: never a 5xx; a bad field gives a 422 naming it."""

from __future__ import annotations

import json
import string
import uuid
from urllib.parse import quote

from backend_support import backend_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POST_PATHS = ["/api/upload/complete", "/api/test/lambda-processing", "/api/test/lambda", "/api/admin/processing-method"]
OK = {200, 202, 404, 409, 422}

# floats include inf/nan: Python clients send them as Infinity/NaN and json.loads accepts those.
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
key_chars = string.ascii_letters + string.digits + "-_./ "
valid_keys = st.text(alphabet=key_chars, min_size=1, max_size=60).map(lambda s: "uploads/" + s).filter(lambda k: ".." not in k)
valid_durations = st.integers(1, 600) | st.floats(1, 600, allow_nan=False)
valid_ids = st.uuids().map(str)

bad_keys = st.one_of(
    st.just(""),
    st.just("uploads/"),
    st.just("uploads/../etc/passwd"),
    st.just("processed/x.mp4"),
    st.just("uploads/" + "a" * 1100),
    st.just("uploads/a\x00b"),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
    st.text(max_size=40).filter(lambda s: not s.startswith("uploads/")),
)
bad_durations = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=601),
    st.floats(max_value=0.999),
    st.floats(min_value=600.001),
    st.just(float("nan")),
    st.just("10"),
    st.booleans(),
    st.none().map(lambda _: "ten"),
)
bad_ids = st.one_of(st.text(max_size=40).filter(lambda s: _not_uuid(s)), st.integers(), st.none(), st.just([]))


def post_json(client, path, body):
    """Encode like a lax client would (NaN/Infinity literals allowed)."""
    return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


def _not_uuid(s: str) -> bool:
    try:
        uuid.UUID(s)
    except (ValueError, AttributeError, TypeError):
        return True
    return False


any_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "s3_key": valid_keys | bad_keys | json_scalars,
            "job_id": valid_ids | bad_ids,
            "segment_duration": valid_durations | bad_durations | json_scalars,
            "use_lambda": st.booleans() | json_scalars,
            "payload": json_values,
            "extra": json_values,
        },
    ),
)


def test_fuzz_post_bodies_never_5xx():
    with backend_env(ENABLE_TEST_ENDPOINTS=True, USE_LAMBDA_PROCESSING=True) as env:

        @FUZZ
        @given(path=st.sampled_from(POST_PATHS), body=any_bodies)
        def run(path, body):
            r = post_json(env.client, path, body)
            assert r.status_code in OK, (path, body, r.status_code, r.text)
            assert isinstance(r.json(), dict)
            if r.status_code == 422:
                assert all(e["loc"][0] == "body" for e in r.json()["detail"])

        run()


def test_fuzz_raw_bytes_never_5xx():
    with backend_env(ENABLE_TEST_ENDPOINTS=True) as env:

        @FUZZ
        @given(path=st.sampled_from(POST_PATHS), raw=st.binary(max_size=200))
        def run(path, raw):
            r = env.client.post(path, content=raw, headers={"content-type": "application/json"})
            # 400 is Starlette's answer to a body that is not UTF-8 at all
            assert r.status_code in OK | {400}, (path, raw, r.status_code, r.text)
            assert r.status_code < 300 or "detail" in r.json()

        run()


def test_fuzz_status_path_never_5xx():
    with backend_env() as env:

        @FUZZ
        @given(job_id=st.text(max_size=60) | valid_ids)
        def run(job_id):
            r = env.client.get(f"/api/jobs/{quote(job_id, safe='')}/status")
            assert r.status_code in {404, 422}, (job_id, r.status_code, r.text)

        run()


def test_fuzz_one_bad_field_is_named_in_the_422():
    with backend_env(ENABLE_TEST_ENDPOINTS=True) as env:

        @FUZZ
        @given(
            data=st.data(),
            path=st.sampled_from(["/api/upload/complete", "/api/test/lambda-processing"]),
            field=st.sampled_from(["s3_key", "job_id", "segment_duration"]),
        )
        def run(data, path, field):
            if path != "/api/upload/complete" and field == "job_id":
                field = "s3_key"
            body = {"s3_key": data.draw(valid_keys), "job_id": data.draw(valid_ids), "segment_duration": data.draw(valid_durations)}
            body[field] = data.draw({"s3_key": bad_keys, "job_id": bad_ids, "segment_duration": bad_durations}[field])
            r = post_json(env.client, path, body)
            assert r.status_code == 422, (body, r.text)
            locs = [e["loc"] for e in r.json()["detail"]]
            assert ["body", field] in [loc[:2] for loc in locs], locs

        run()


def test_fuzz_valid_bodies_are_accepted():
    with backend_env() as env:

        @FUZZ
        @given(key=valid_keys, job_id=valid_ids, duration=st.none() | valid_durations)
        def run(key, job_id, duration):
            body = {"s3_key": key, "job_id": job_id}
            if duration is not None:
                body["segment_duration"] = duration
            r = env.client.post("/api/upload/complete", json=body)
            assert r.status_code in {202, 409}, (body, r.text)

        run()

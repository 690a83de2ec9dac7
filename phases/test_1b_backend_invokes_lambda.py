"""Step 1B: the backend reaches the function through the Lambda API, and says so clearly when it cannot."""
from __future__ import annotations

import pytest
import requests

HELLO = "video_processor_test"


@pytest.mark.contract("B1", "T1")
def test_backend_test_endpoint_returns_the_function_response(target, evidence) -> None:
    url = f"{target.backend()}/api/test/lambda"
    resp = requests.post(url, timeout=60)
    assert resp.status_code == 200, f"POST {url} -> {resp.status_code}: {resp.text[:300]}"
    body = resp.json()
    assert body.get("status") == "success", body
    assert body.get("lambda_response") == {"statusCode": 200, "body": "Hello from Lambda"}, body
    assert body.get("status_code") == 200, body
    evidence.add("works", "POST /api/test/lambda returned the function's hello payload")


@pytest.mark.contract("B6")
def test_deployed_backend_is_the_code_this_run_validates(target, evidence) -> None:
    """What runs behind --backend-url is compared, not the checkout: its own hash against the validated source's."""
    resp = requests.get(f"{target.backend()}/api/version", timeout=30)
    assert resp.status_code == 200, f"GET /api/version -> {resp.status_code}: {resp.text[:200]} (CONTRACT B6)"
    deployed = resp.json().get("backend_sha256")
    want = target.sources.backend_sha256()
    assert deployed == want, (f"the deployed backend runs code {str(deployed)[:12]}..., this run validates "
                              f"{want[:12]}...: deploy this checkout's backend or validate the deployed one")
    evidence.add("works", f"the backend behind {target.backend()} runs this checkout's code ({want[:12]}...)")


@pytest.mark.contract("B4")
def test_backend_health_names_the_processing_method(target, evidence) -> None:
    resp = requests.get(f"{target.backend()}/api/health", timeout=30)
    assert resp.status_code == 200, resp.text
    method = resp.json().get("processing_method")
    assert method in ("lambda", "celery"), resp.json()
    evidence.add("rollback", f"/api/health reports the active path ({method}); switching it is drilled in 5A")


@pytest.mark.contract("B1")
@pytest.mark.local_only
@pytest.mark.parametrize("breakage", ["failing", "missing"])
def test_broken_test_function_gives_a_clear_non_2xx(target, evidence, breakage) -> None:
    url = f"{target.backend()}/api/test/lambda"
    name = target.function_name(HELLO)
    with target.broken_function(HELLO, breakage):
        resp = requests.post(url, timeout=60)
    assert not 200 <= resp.status_code < 300, f"{breakage} function still gave {resp.status_code}: {resp.text[:300]}"
    assert resp.status_code >= 400
    text = resp.text
    assert ("error" in text.lower()) or (name in text), f"unclear message for a {breakage} function: {text[:300]}"
    if breakage == "missing":
        assert name in text, f"the message does not name the missing function {name}: {text[:300]}"
    evidence.add("reliable", f"a {breakage} test function gives HTTP {resp.status_code}: {text[:120]}")
    # and the function is back
    assert requests.post(url, timeout=60).status_code == 200

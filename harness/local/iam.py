"""Applies the function role's policy (from terraform) to requests the function signs.

The runtime hands functions their own access key; the gateway recognises it and
allows an S3 or DynamoDB request only if a policy statement allows the action
on the resource, as IAM would. Other callers (the harness, the backend) are not
restricted, as on AWS where they use other principals.
"""
from __future__ import annotations

from fnmatch import fnmatchcase

from harness.local.awsreq import AwsRequest
from harness.stack.terraform import Statement

FUNCTION_ACCESS_KEY = "AKIALOCALFUNCTIONROLE"  # 21 chars: not shaped like a real key, never redacted away
_S3_ACTIONS = {"GetObject": "s3:GetObject", "HeadObject": "s3:GetObject", "PutObject": "s3:PutObject",
               "UploadPart": "s3:PutObject", "CreateMultipartUpload": "s3:PutObject",
               "CompleteMultipartUpload": "s3:PutObject", "DeleteObject": "s3:DeleteObject",
               "DeleteObjects": "s3:DeleteObject", "ListObjects": "s3:ListBucket", "HeadBucket": "s3:ListBucket"}


def action_and_resource(req: AwsRequest, region: str, account: str) -> tuple[str, str] | None:
    if req.service == "s3":
        action = _S3_ACTIONS.get(req.operation, f"s3:{req.operation}")
        if req.key:
            return action, f"arn:aws:s3:::{req.bucket}/{req.key}"
        return action, f"arn:aws:s3:::{req.bucket}"
    if req.service == "dynamodb":
        return f"dynamodb:{req.operation}", f"arn:aws:dynamodb:{region}:{account}:table/{req.table}"
    return None


def allowed(statements: list[Statement], action: str, resource: str) -> bool:
    allow = False
    for st in statements:
        if not any(fnmatchcase(action, a) for a in st.actions):
            continue
        if not any(fnmatchcase(resource, r) for r in st.resources):
            continue
        if st.effect == "Deny":
            return False
        allow = True
    return allow

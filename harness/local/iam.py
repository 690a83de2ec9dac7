"""Applies the function role's policy (from terraform) to requests the function signs.

The runtime hands functions their own access key; the gateway recognises it and
allows a request only if a policy statement allows the action on the resource, as
IAM would, for every service, however the request is signed (awsreq). S3 and
DynamoDB get their real resource ARNs, Lambda its function ARN, CopyObject is
checked on both its source (s3:GetObject) and its destination (s3:PutObject). Any
other service is checked as `<service>:<Operation>` on "*", so only a statement
granting it (the role's Logs statement, for one) lets it through. The only calls
allowed without a statement are those AWS itself needs no permission for
(NO_PERMISSION_NEEDED). Other callers (the harness, the backend) are not
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


# "You don't need any permissions to perform this operation":
# https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
NO_PERMISSION_NEEDED = frozenset({"sts:GetCallerIdentity"})


def actions_and_resources(req: AwsRequest, region: str, account: str) -> list[tuple[str, str]]:
    """Every (action, resource) IAM evaluates for the request; empty when none is needed."""
    if req.service == "s3":
        if req.operation in ("CopyObject", "UploadPartCopy"):
            return [("s3:GetObject", f"arn:aws:s3:::{req.copy_source}"),
                    ("s3:PutObject", f"arn:aws:s3:::{req.bucket}/{req.key}")]
        action = _S3_ACTIONS.get(req.operation, f"s3:{req.operation}")
        if req.key:
            return [(action, f"arn:aws:s3:::{req.bucket}/{req.key}")]
        return [(action, f"arn:aws:s3:::{req.bucket}")]
    if req.service == "dynamodb":
        return [(f"dynamodb:{req.operation}", f"arn:aws:dynamodb:{region}:{account}:table/{req.table}")]
    if req.service == "sqs" and req.queue:
        return [(f"sqs:{req.operation}", f"arn:aws:sqs:{region}:{account}:{req.queue}")]
    if req.service == "lambda":
        if req.operation == "Invoke":
            return [("lambda:InvokeFunction", f"arn:aws:lambda:{region}:{account}:function:{req.function}")]
        return [(f"lambda:{req.operation}", "*")]
    action = f"{req.service}:{req.operation}"
    return [] if action in NO_PERMISSION_NEEDED else [(action, "*")]


def action_and_resource(req: AwsRequest, region: str, account: str) -> tuple[str, str] | None:
    found = actions_and_resources(req, region, account)
    return found[0] if found else None


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

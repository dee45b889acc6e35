"""offline/iam_eval.py decides as the IAM policy evaluation logic documents it."""

from __future__ import annotations

import pytest

from offline.iam_eval import Decision, Request, evaluate, key_policy_allows

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::123456789012:role/app"


def allow(condition: dict | None = None, **extra: object) -> dict:
    statement = {"Effect": "Allow", "Action": "kms:GenerateDataKey*", "Resource": KEY, **extra}
    return {"Statement": [{**statement, "Condition": condition}] if condition else [statement]}


@pytest.mark.parametrize(
    ("condition", "context", "allowed"),
    [
        ({"StringEquals": {"aws:SourceAccount": "123456789012"}}, {}, False),  # a missing key fails a positive operator
        ({"StringEquals": {"aws:SourceAccount": "123456789012"}}, {"aws:sourceaccount": "123456789012"}, True),
        ({"StringEqualsIfExists": {"aws:SourceAccount": "123456789012"}}, {}, True),
        ({"StringNotEquals": {"aws:SourceAccount": "999999999999"}}, {}, True),  # ... and passes a negated one
        ({"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:*:log-group:*"}},
         {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:123456789012:log-group:/x"}, True),
        ({"ForAnyValue:StringLike": {"s3:prefix": ["raw/*"]}}, {"s3:prefix": ["processed/", "raw/a"]}, True),
        ({"ForAllValues:StringLike": {"s3:prefix": ["raw/*"]}}, {"s3:prefix": ["processed/", "raw/a"]}, False),
        ({"Null": {"aws:SourceArn": "true"}}, {}, True),
        ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, False),
    ],
)  # fmt: skip
def test_least_privilege_conditions_follow_the_documented_operators(condition, context, allowed) -> None:
    decision = evaluate([allow(condition)], Request("kms:GenerateDataKey", KEY, context))
    assert (decision is Decision.ALLOWED) is allowed


def test_least_privilege_actions_match_case_insensitively_and_resources_literally() -> None:
    assert evaluate([allow()], Request("KMS:generatedatakey", KEY)) is Decision.ALLOWED
    dotted = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::a.b/*"}]}
    assert evaluate([dotted], Request("s3:GetObject", "arn:aws:s3:::axb/k")) is Decision.IMPLICIT_DENY


def test_least_privilege_an_explicit_deny_wins_and_notaction_excludes() -> None:
    deny = {"Statement": [{"Effect": "Deny", "NotAction": "kms:Decrypt", "Resource": "*"}]}
    assert evaluate([allow(), deny], Request("kms:GenerateDataKey", KEY)) is Decision.EXPLICIT_DENY
    assert evaluate([deny], Request("kms:Decrypt", KEY)) is Decision.IMPLICIT_DENY


def test_least_privilege_key_policies_delegate_to_iam_only_through_the_account() -> None:
    root = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
    }
    request = Request("kms:GenerateDataKey", KEY, {}, ROLE)
    assert key_policy_allows(root, request, [allow()]) is Decision.ALLOWED
    assert key_policy_allows(root, request, []) is Decision.IMPLICIT_DENY
    service = Request("kms:GenerateDataKey", KEY, {}, "events.amazonaws.com")
    assert key_policy_allows(root, service) is Decision.IMPLICIT_DENY  # a service principal is not the account
    named = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
            }
        ]
    }
    assert key_policy_allows(named, service) is Decision.ALLOWED

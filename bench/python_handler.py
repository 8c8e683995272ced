"""The usual alternative, for the bench's side-by-side init figure: a Python handler that
imports boto3 and builds the same three clients at init, then asks the Runtime API for
its first invocation (what a custom runtime's bootstrap does)."""
import os
import urllib.request

import boto3

session = boto3.session.Session()
dynamodb = session.client("dynamodb")
cognito = session.client("cognito-idp")
sesv2 = session.client("sesv2")

api = os.environ["AWS_LAMBDA_RUNTIME_API"]
urllib.request.urlopen(f"http://{api}/2018-06-01/runtime/invocation/next").read()

#!/usr/bin/env python3
"""Uploads a folder's files to a bucket of the local S3 server (creating the bucket).

usage: upload.py BUCKET DIR [PREFIX]
"""
import os
import sys

import boto3


def client():
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{os.environ['AIDBOX_BULK_S3_PORT']}",
        aws_access_key_id=os.environ["AIDBOX_BULK_S3_KEY"],
        aws_secret_access_key=os.environ["AIDBOX_BULK_S3_SECRET"],
        region_name="us-east-1",
    )


def main():
    bucket, folder = sys.argv[1], sys.argv[2]
    prefix = sys.argv[3] if len(sys.argv) > 3 else ""
    s3 = client()
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    n = 0
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            s3.upload_file(path, bucket, prefix + name)
            n += 1
    print(f"uploaded {n} objects to s3://{bucket}/{prefix}")


if __name__ == "__main__":
    main()

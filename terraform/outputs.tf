output "bucket_name" {
  value = aws_s3_bucket.videos.bucket
}

output "bucket_arn" {
  value = aws_s3_bucket.videos.arn
}

output "table_name" {
  value = aws_dynamodb_table.jobs.name
}

output "table_arn" {
  value = aws_dynamodb_table.jobs.arn
}

output "role_arn" {
  value = aws_iam_role.lambda.arn
}

output "ffmpeg_layer_arn" {
  value = aws_lambda_layer_version.ffmpeg.arn
}

output "processor_function_name" {
  value = aws_lambda_function.video_processor.function_name
}

output "processor_function_arn" {
  value = aws_lambda_function.video_processor.arn
}

output "test_function_names" {
  value = {
    hello        = try(aws_lambda_function.test["video_processor_test"].function_name, null)
    ffmpeg_check = try(aws_lambda_function.test["ffmpeg_check"].function_name, null)
    s3_roundtrip = try(aws_lambda_function.test["s3_roundtrip"].function_name, null)
    segment      = try(aws_lambda_function.test["segment_test"].function_name, null)
    job_status   = try(aws_lambda_function.test["job_status"].function_name, null)
  }
}

output "stage" {
  value = var.stage
}

output "failure_queue_url" {
  value = aws_sqs_queue.processor_failures.url
}

# The applied configuration's digest, which the harness compares with its checkout on a real account
# (harness/stack/drift.py config_sha256): sha256 over "<file>:<sha256 of the file>\n" for every *.tf, sorted.
output "config_sha256" {
  value = sha256(join("", [for f in sort(fileset(path.module, "*.tf")) : "${f}:${filesha256("${path.module}/${f}")}\n"]))
}

output "rollout_weight_parameter" {
  value = aws_ssm_parameter.rollout_weight.name
}

output "rollout_salt_parameter" {
  value = aws_ssm_parameter.rollout_salt.name
}

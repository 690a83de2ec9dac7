resource "aws_lambda_layer_version" "ffmpeg" {
  layer_name          = "${var.project_name}-ffmpeg"
  filename            = var.ffmpeg_layer_zip
  source_code_hash    = filebase64sha256(var.ffmpeg_layer_zip)
  compatible_runtimes = [var.lambda_runtime]
  description         = "Static ffmpeg 7.0.2 from the pinned imageio-ffmpeg 0.6.0 wheel, at /opt/bin/ffmpeg"
}

# Step 1A: hello world (128 MB, 60 s, as in the rollout plan).
resource "aws_lambda_function" "video_processor_test" {
  count            = var.enable_test_functions ? 1 : 0
  function_name    = "${var.project_name}-video-processor-test"
  role             = aws_iam_role.lambda.arn
  runtime          = var.lambda_runtime
  handler          = "video_processor.handlers.hello.handler"
  filename         = var.package_zip
  source_code_hash = filebase64sha256(var.package_zip)
  memory_size      = 128
  timeout          = 60
}

# Step 2A: ffmpeg from the layer.
resource "aws_lambda_function" "ffmpeg_check" {
  count            = var.enable_test_functions ? 1 : 0
  function_name    = "${var.project_name}-ffmpeg-check"
  role             = aws_iam_role.lambda.arn
  runtime          = var.lambda_runtime
  handler          = "video_processor.handlers.ffmpeg_check.handler"
  filename         = var.package_zip
  source_code_hash = filebase64sha256(var.package_zip)
  memory_size      = 256
  timeout          = 30
  layers           = [aws_lambda_layer_version.ffmpeg.arn]

  environment {
    variables = {
      VIDEO_BUCKET = aws_s3_bucket.videos.bucket
      JOBS_TABLE   = aws_dynamodb_table.jobs.name
    }
  }
}

# Step 2B: S3 round trip.
resource "aws_lambda_function" "s3_roundtrip" {
  count            = var.enable_test_functions ? 1 : 0
  function_name    = "${var.project_name}-s3-roundtrip"
  role             = aws_iam_role.lambda.arn
  runtime          = var.lambda_runtime
  handler          = "video_processor.handlers.s3_roundtrip.handler"
  filename         = var.package_zip
  source_code_hash = filebase64sha256(var.package_zip)
  memory_size      = 256
  timeout          = 120

  environment {
    variables = {
      VIDEO_BUCKET = aws_s3_bucket.videos.bucket
      JOBS_TABLE   = aws_dynamodb_table.jobs.name
    }
  }
}

# Step 3A: segment cutting without job records.
resource "aws_lambda_function" "segment_test" {
  count            = var.enable_test_functions ? 1 : 0
  function_name    = "${var.project_name}-segment-test"
  role             = aws_iam_role.lambda.arn
  runtime          = var.lambda_runtime
  handler          = "video_processor.handlers.segment.handler"
  filename         = var.package_zip
  source_code_hash = filebase64sha256(var.package_zip)
  memory_size      = 1024
  timeout          = 300
  layers           = [aws_lambda_layer_version.ffmpeg.arn]

  environment {
    variables = {
      VIDEO_BUCKET = aws_s3_bucket.videos.bucket
      JOBS_TABLE   = aws_dynamodb_table.jobs.name
    }
  }
}

# Step 3B: one status transition with a conditional write.
resource "aws_lambda_function" "job_status" {
  count            = var.enable_test_functions ? 1 : 0
  function_name    = "${var.project_name}-job-status"
  role             = aws_iam_role.lambda.arn
  runtime          = var.lambda_runtime
  handler          = "video_processor.handlers.job_status.handler"
  filename         = var.package_zip
  source_code_hash = filebase64sha256(var.package_zip)
  memory_size      = 128
  timeout          = 30

  environment {
    variables = {
      VIDEO_BUCKET = aws_s3_bucket.videos.bucket
      JOBS_TABLE   = aws_dynamodb_table.jobs.name
    }
  }
}

# Step 4A onwards: the processor.
resource "aws_lambda_function" "video_processor" {
  function_name                  = "${var.project_name}-video-processor"
  role                           = aws_iam_role.lambda.arn
  runtime                        = var.lambda_runtime
  handler                        = "video_processor.handlers.processor.handler"
  filename                       = var.package_zip
  source_code_hash               = filebase64sha256(var.package_zip)
  memory_size                    = var.processor_memory_mb
  timeout                        = var.processor_timeout_s
  reserved_concurrent_executions = var.processor_reserved_concurrency
  layers                         = [aws_lambda_layer_version.ffmpeg.arn]

  ephemeral_storage {
    size = var.processor_ephemeral_mb
  }

  environment {
    variables = {
      VIDEO_BUCKET = aws_s3_bucket.videos.bucket
      JOBS_TABLE   = aws_dynamodb_table.jobs.name
    }
  }
}

resource "aws_lambda_function_event_invoke_config" "video_processor" {
  function_name                = aws_lambda_function.video_processor.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.processor_failures.arn
    }
  }
}

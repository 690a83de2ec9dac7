resource "aws_lambda_layer_version" "ffmpeg" {
  layer_name          = "${var.project_name}-ffmpeg"
  filename            = var.ffmpeg_layer_zip
  source_code_hash    = filebase64sha256(var.ffmpeg_layer_zip)
  compatible_runtimes = [var.lambda_runtime]
  description         = "Static ffmpeg 7.0.2 from the pinned imageio-ffmpeg 0.6.0 wheel, at /opt/bin/ffmpeg"
}

locals {
  # What every function reads: the bucket and the job table.
  function_environment = {
    VIDEO_BUCKET = aws_s3_bucket.videos.bucket
    JOBS_TABLE   = aws_dynamodb_table.jobs.name
  }

  # The per-step test functions (1A..3B), by logical name; the deployed name is
  # "<project_name>-<key with - for _>". ffmpeg_layer: the layer is attached;
  # environment: function_environment is set. Every entry has the same attributes
  # of the same types, so that `cond ? local.test_functions : {}` is one map type.
  test_functions = {
    # Step 1A: hello world (128 MB, 60 s, as in the rollout plan).
    video_processor_test = {
      handler      = "video_processor.handlers.hello.handler"
      memory_size  = 128
      timeout      = 60
      ffmpeg_layer = false
      environment  = false
    }
    # Step 2A: ffmpeg from the layer.
    ffmpeg_check = {
      handler      = "video_processor.handlers.ffmpeg_check.handler"
      memory_size  = 256
      timeout      = 30
      ffmpeg_layer = true
      environment  = true
    }
    # Step 2B: S3 round trip.
    s3_roundtrip = {
      handler      = "video_processor.handlers.s3_roundtrip.handler"
      memory_size  = 256
      timeout      = 120
      ffmpeg_layer = false
      environment  = true
    }
    # Step 3A: segment cutting without job records.
    segment_test = {
      handler      = "video_processor.handlers.segment.handler"
      memory_size  = 1024
      timeout      = 300
      ffmpeg_layer = true
      environment  = true
    }
    # Step 3B: one status transition with a conditional write.
    job_status = {
      handler      = "video_processor.handlers.job_status.handler"
      memory_size  = 128
      timeout      = 30
      ffmpeg_layer = false
      environment  = true
    }
  }
}

# Steps 1A..3B: one function per step, all off when enable_test_functions is false.
resource "aws_lambda_function" "test" {
  for_each         = var.enable_test_functions ? local.test_functions : {}
  function_name    = "${var.project_name}-${replace(each.key, "_", "-")}"
  role             = aws_iam_role.lambda.arn
  runtime          = var.lambda_runtime
  handler          = each.value.handler
  filename         = var.package_zip
  source_code_hash = filebase64sha256(var.package_zip)
  memory_size      = each.value.memory_size
  timeout          = each.value.timeout
  layers           = each.value.ffmpeg_layer ? [aws_lambda_layer_version.ffmpeg.arn] : []

  dynamic "environment" {
    for_each = each.value.environment ? [local.function_environment] : []
    content {
      variables = environment.value
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
    variables = local.function_environment
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

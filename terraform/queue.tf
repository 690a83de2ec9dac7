# Async invocations of the processor that end without its own verdict (an OOM kill, a crash, the
# hard timeout on every attempt, an event too old to retry) land here as Lambda's on-failure
# destination record; the backend consumes them and marks the job FAILED with the reason.
resource "aws_sqs_queue" "processor_failures" {
  name                      = "${var.project_name}-processor-failures-${var.stage}"
  message_retention_seconds = 1209600
}

variable "project_name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "easy-video-share"
}

variable "aws_region" {
  description = "Region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "stage" {
  description = "Deployment stage. The harness refuses a stage named like production unless --allow-prod."
  type        = string
  default     = "dev"
}

variable "lambda_runtime" {
  description = "Python runtime of every function. python3.13 runs on Amazon Linux 2023 (glibc 2.34)."
  type        = string
  default     = "python3.13"
}

variable "package_zip" {
  description = "Deployment package built by `python -m harness build` (deterministic)."
  type        = string
  default     = "../build/function.zip"
}

variable "ffmpeg_layer_zip" {
  description = "FFmpeg layer zip (bin/ffmpeg from the pinned imageio-ffmpeg wheel)."
  type        = string
  default     = "../build/ffmpeg-layer.zip"
}

variable "enable_test_functions" {
  description = "Deploy the per-step test functions (1A..3B). Must be false in production."
  type        = bool
  default     = true
}

variable "processor_memory_mb" {
  description = "Memory of the processor function (also buys CPU)."
  type        = number
  default     = 1024
}

variable "processor_timeout_s" {
  description = "Timeout of the processor function; Lambda's maximum is 900."
  type        = number
  default     = 900
}

variable "processor_ephemeral_mb" {
  description = "Ephemeral /tmp of the processor; segments stream through it one at a time."
  type        = number
  default     = 512
}

variable "processor_reserved_concurrency" {
  description = "Reserved concurrency of the processor (-1 for unreserved)."
  type        = number
  default     = 5
}

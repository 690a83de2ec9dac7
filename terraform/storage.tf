resource "aws_s3_bucket" "videos" {
  bucket = "${var.project_name}-videos-${var.stage}"
}

resource "aws_s3_bucket_public_access_block" "videos" {
  bucket                  = aws_s3_bucket.videos.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# The name the existing backend already uses for job records.
resource "aws_dynamodb_table" "jobs" {
  name         = "${var.project_name}-video-metadata"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "video_id"

  attribute {
    name = "video_id"
    type = "S"
  }
}

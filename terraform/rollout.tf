# Progressive rollout (step 5C): the share of new jobs the backend routes to Lambda, in basis points
# (0..10000), and the salt of the per-job hash. The rollout controller (`python -m harness rollout`)
# owns the weight after creation; terraform only creates it at 0, so an apply never moves traffic.
resource "aws_ssm_parameter" "rollout_weight" {
  name  = "/${var.project_name}/rollout/lambda-weight"
  type  = "String"
  value = "0"

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_ssm_parameter" "rollout_salt" {
  name  = "/${var.project_name}/rollout/salt"
  type  = "String"
  value = "${var.project_name}-${var.stage}"
}

# The backend (on Railway, with an IAM user this stack does not manage) may only read the two
# parameters; only the controller's credentials may write the weight. Attach this document to the
# backend's user: `terraform output -raw backend_rollout_read_policy`.
output "backend_rollout_read_policy" {
  value = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ReadRolloutWeight"
      Effect   = "Allow"
      Action   = ["ssm:GetParameter", "ssm:GetParameters"]
      Resource = [aws_ssm_parameter.rollout_weight.arn, aws_ssm_parameter.rollout_salt.arn]
    }]
  })
}

# The rollout plan's workspace: `terraform workspace select main-simple`,
# then `terraform apply -var-file=env/main-simple.tfvars`.
stage                 = "main-simple"
enable_test_functions = true

# Production: the per-step test functions are off.
stage                 = "prod"
enable_test_functions = false

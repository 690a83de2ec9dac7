"""Backend settings, read from the environment (pydantic-settings).

AWS endpoints, region and credentials are deliberately NOT settings here:
boto3 reads the standard AWS_* variables itself (AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_LAMBDA, AWS_REGION/AWS_DEFAULT_REGION, keys), so local runs
and real AWS take exactly the same code path.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_ffmpeg_path() -> str:
    """The pinned imageio-ffmpeg binary when installed (same one as the Lambda layer)."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return "ffmpeg"
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # binary missing from the wheel: fall back to PATH
        return "ffmpeg"


class Settings(BaseSettings):
    """Everything the web app and the Celery worker read from env."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)

    PROJECT_NAME: str = "easy-video-share"
    AWS_BUCKET_NAME: str = ""
    DYNAMODB_TABLE_NAME: str = ""
    # true: every new job to Lambda; false: the hard kill switch (Celery, whatever the weight says);
    # unset: the rollout weight in SSM decides per job (backend/rollout.py), 0 until the controller moves it.
    USE_LAMBDA_PROCESSING: bool | None = None
    ROLLOUT_WEIGHT_PARAMETER: str = ""       # default /<PROJECT_NAME>/rollout/lambda-weight (terraform/rollout.tf)
    ROLLOUT_SALT_PARAMETER: str = ""         # default /<PROJECT_NAME>/rollout/salt
    ROLLOUT_CACHE_SECONDS: float = Field(default=5.0, ge=0, le=300)
    LAMBDA_FUNCTION_NAME: str = ""
    LAMBDA_TEST_FUNCTION_NAME: str = ""
    ENABLE_TEST_ENDPOINTS: bool = False
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    FFMPEG_PATH: str = Field(default_factory=default_ffmpeg_path)
    SEGMENT_DURATION: int = Field(default=10, ge=1, le=600)
    PRESIGNED_URL_EXPIRES_SECONDS: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    # A job PROCESSING longer than this is reported FAILED ("Stale"): the processor's timeout (900 s)
    # plus a margin. An OOM kill or a crash leaves no one else to say so.
    PROCESSING_STALE_AFTER_SECONDS: int = Field(default=960, ge=1)
    # The processor's on-failure destination (terraform output failure_queue_url); empty: not consumed.
    FAILURE_QUEUE_URL: str = ""

    @field_validator("USE_LAMBDA_PROCESSING", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _derive_function_names(self) -> Settings:
        """Function names default from PROJECT_NAME, matching the Terraform naming."""
        if not self.LAMBDA_FUNCTION_NAME:
            self.LAMBDA_FUNCTION_NAME = f"{self.PROJECT_NAME}-video-processor"
        if not self.LAMBDA_TEST_FUNCTION_NAME:
            self.LAMBDA_TEST_FUNCTION_NAME = f"{self.PROJECT_NAME}-video-processor-test"
        if not self.ROLLOUT_WEIGHT_PARAMETER:
            self.ROLLOUT_WEIGHT_PARAMETER = f"/{self.PROJECT_NAME}/rollout/lambda-weight"
        if not self.ROLLOUT_SALT_PARAMETER:
            self.ROLLOUT_SALT_PARAMETER = f"/{self.PROJECT_NAME}/rollout/salt"
        return self

    @property
    def processing_method(self) -> str:
        """Which path new uploads take; read per request so a flip takes effect at once."""
        if self.USE_LAMBDA_PROCESSING is None:
            return "weighted"
        return "lambda" if self.USE_LAMBDA_PROCESSING else "celery"

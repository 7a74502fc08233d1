# MLflow server with the PostgreSQL driver and the S3 client it needs for artifacts in MinIO.
FROM python:3.11-slim
RUN pip install --no-cache-dir mlflow==3.17.2 psycopg2-binary==2.9.10 boto3==1.44.8
EXPOSE 5000

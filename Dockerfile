# smppgw: the gateway, the simulator, the load tester and the conformance suite in one
# image. Build: docker build -t smppgw .   Run: see deploy/compose.yaml.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE* ./
COPY smppgw smppgw
COPY simulator simulator
COPY loadtest loadtest
COPY conformance conformance
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /var/lib/smppgw --uid 10001 smppgw
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER smppgw
WORKDIR /var/lib/smppgw
EXPOSE 8080 2775
# /healthz answers 200 while the process serves the API (readiness is /readyz).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SMPPGW_HEALTH_PORT', '8080'), timeout=2)"
ENTRYPOINT ["smppgw"]
CMD ["serve", "--config", "/etc/smppgw/smppgw.toml"]

# The CPU worker. onnxruntime-node's CPU binaries ship in its npm package; the install-time CUDA
# download is skipped (GPU images build with --onnxruntime-node-install=cuda12 on a CUDA 12 base).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev
USER node
CMD ["node", "bin/onnx-export.js", "worker"]

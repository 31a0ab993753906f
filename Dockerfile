# The image the Kubernetes manifests (infra/k8s) run. Node 24 runs the .ts entry points directly
# (type stripping), so there is no build step. Not built on the development machines (no Docker).
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY schemas ./schemas
COPY shared ./shared
COPY workers ./workers
COPY apps ./apps
COPY infra/provision.ts ./infra/
# uid 1000, as the Deployments' securityContext expects.
USER node
CMD ["node", "apps/cli/koo.ts", "--help"]

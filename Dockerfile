# Isthmus: one image for the identity, gateway and controller processes (`isthmus <verb>`).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/isthmus
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY manifests ./manifests
# Non-root, as the install manifests require (runAsNonRoot, uid 65532).
USER 65532:65532
# Gateway tunnel and admin; identity Certify, gRPC health and admin (metrics).
EXPOSE 4143 4191 8080 9990 9991
ENTRYPOINT ["node", "/opt/isthmus/bin/isthmus.mjs"]

# jitgate: multi-stage build, runs as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY protocols ./protocols
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
RUN useradd --system --uid 10001 --home /app jitgate && mkdir -p /app/recordings /config && chown jitgate /app/recordings
USER jitgate
EXPOSE 15432 13306
VOLUME ["/app/recordings"]
ENTRYPOINT ["node", "--max-semi-space-size=4", "/app/bin/jitgate.js"]
CMD ["serve", "--config", "/config/jitgate.yaml"]

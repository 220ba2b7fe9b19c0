import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { toPem } from "../../crypto/pem.js";
import type { AcmeServerService, Authenticated } from "../../domain/acme-server/acme-server-service.js";
import { renderAcmeError } from "./acme-errors.js";
import {
  type AcmeUrls,
  accountWire,
  acmeUrls,
  authorizationWire,
  challengeWire,
  orderWire,
} from "./acme-wire.js";

type Params = { profile: string; id?: string };

/** RFC 9773 §4.3: clients ask again after this many seconds. */
const ARI_RETRY_AFTER_SECONDS = 21_600;
/**
 * RFC 8555 §7.4: a processing order is polled again after this many seconds. Short, because an
 * approver may decide at any moment; clients without the header poll on their own schedule anyway.
 */
const PROCESSING_RETRY_AFTER_SECONDS = 3;

/** The ACME server (RFC 8555) of each profile at /acme/{profile}/, with its own problem documents. */
export function registerAcmeServerRoutes(app: FastifyInstance, deps: { acme: AcmeServerService }): void {
  const { acme } = deps;

  app.register(async (scope) => {
    scope.addContentTypeParser("application/jose+json", { parseAs: "string" }, (_request, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch {
        done(Object.assign(new Error("The body is not JSON"), { statusCode: 400 }), undefined);
      }
    });
    scope.setErrorHandler(renderAcmeError);

    const urlsOf = (request: FastifyRequest<{ Params: Params }>): AcmeUrls =>
      acmeUrls(request.headers.host ?? "localhost", request.params.profile);

    // RFC 8555 §6.5: a fresh nonce on every response, errors included, and the directory as index.
    scope.addHook("onSend", async (request, reply, payload) => {
      const params = request.params as Partial<Params> | undefined;
      if (params?.profile) {
        const index = `<${acmeUrls(request.headers.host ?? "localhost", params.profile).directory}>;rel="index"`;
        const links = reply.getHeader("link");
        reply.header("link", links === undefined ? index : [...[links].flat().map(String), index]);
      }
      if (request.method !== "GET" && !reply.hasHeader("replay-nonce"))
        reply.header("replay-nonce", await acme.newNonce().catch(() => undefined));
      reply.header("cache-control", "no-store");
      return payload;
    });

    /** Verifies the JWS and records the account as the actor of whatever the request changes. */
    async function authenticate(
      request: FastifyRequest<{ Params: Params }>,
      options: { jwk?: boolean } = {},
    ): Promise<Authenticated & { urls: AcmeUrls; url: string }> {
      const urls = urlsOf(request);
      const url = `https://${request.headers.host ?? "localhost"}${request.url}`;
      const auth = await acme.authenticate(
        { profile: request.params.profile, url, accountUrl: urls.account, body: request.body },
        options,
      );
      if (auth.account)
        request.caller = {
          principalId: `acme-account:${auth.account.id}`,
          clientId: urls.account(auth.account.id),
          tenantId: "",
        };
      return { ...auth, urls, url };
    }

    const setAccountCaller = (request: FastifyRequest, urls: AcmeUrls, id: string) => {
      request.caller = { principalId: `acme-account:${id}`, clientId: urls.account(id), tenantId: "" };
    };

    scope.get<{ Params: Params }>(
      "/acme/:profile/directory",
      { config: { operation: "AcmeDirectory" } },
      async (request) => {
        const profile = await acme.profile(request.params.profile);
        const urls = urlsOf(request);
        // RFC 8555 §7.1.1; RFC 9773 §3 renewalInfo; draft-ietf-acme-profiles `meta.profiles`.
        return {
          newNonce: `${urls.base}/new-nonce`,
          newAccount: `${urls.base}/new-account`,
          newOrder: `${urls.base}/new-order`,
          revokeCert: `${urls.base}/revoke-cert`,
          keyChange: `${urls.base}/key-change`,
          renewalInfo: `${urls.base}/renewal-info`,
          meta: {
            externalAccountRequired: profile.eabRequired,
            profiles: { [profile.name]: profile.description || `${profile.validityDays}-day certificates` },
          },
        };
      },
    );

    // RFC 8555 §7.2: HEAD answers 200, GET 204.
    const newNonce = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
      await acme.profile(request.params.profile);
      reply.header("replay-nonce", await acme.newNonce());
      return reply.status(request.method === "HEAD" ? 200 : 204).send();
    };
    scope.route<{ Params: Params }>({
      method: ["GET", "HEAD"],
      url: "/acme/:profile/new-nonce",
      exposeHeadRoute: false,
      config: { operation: "AcmeNewNonce" },
      handler: newNonce,
    });

    scope.post<{ Params: Params }>(
      "/acme/:profile/new-account",
      { config: { operation: "AcmeNewAccount" } },
      async (request, reply) => {
        const auth = await authenticate(request, { jwk: true });
        const { account, created } = await acme.newAccount(auth, auth.url);
        setAccountCaller(request, auth.urls, account.id);
        reply.header("location", auth.urls.account(account.id));
        return reply.status(created ? 201 : 200).send(accountWire(account, auth.urls));
      },
    );

    scope.post<{ Params: Params & { id: string } }>(
      "/acme/:profile/account/:id",
      { config: { operation: "AcmeAccount" } },
      async (request) => {
        const auth = await authenticate(request);
        return accountWire(await acme.updateAccount(auth, request.params.id), auth.urls);
      },
    );

    scope.post<{ Params: Params & { id: string }; Querystring: { cursor?: string } }>(
      "/acme/:profile/account/:id/orders",
      { config: { operation: "AcmeAccountOrders" } },
      async (request, reply) => {
        const auth = await authenticate(request);
        const { orders, next } = await acme.orders(auth, request.params.id, request.query.cursor);
        // RFC 8555 §7.1.2.1: further pages by Link rel="next".
        if (next)
          reply.header(
            "link",
            `<${auth.urls.orders(request.params.id)}?cursor=${encodeURIComponent(next)}>;rel="next"`,
          );
        return { orders: orders.map((o) => auth.urls.order(o.id)) };
      },
    );

    scope.post<{ Params: Params }>(
      "/acme/:profile/key-change",
      { config: { operation: "AcmeKeyChange" } },
      async (request) => {
        const auth = await authenticate(request);
        const id = auth.account?.id ?? "";
        return accountWire(await acme.changeKey(auth, auth.url, auth.urls.account(id)), auth.urls);
      },
    );

    scope.post<{ Params: Params }>(
      "/acme/:profile/new-order",
      { config: { operation: "AcmeNewOrder" } },
      async (request, reply) => {
        const auth = await authenticate(request);
        const { order } = await acme.newOrder(auth);
        reply.header("location", auth.urls.order(order.id));
        return reply.status(201).send(orderWire(order, auth.urls, auth.profile.name));
      },
    );

    scope.post<{ Params: Params & { id: string } }>(
      "/acme/:profile/order/:id",
      { config: { operation: "AcmeOrder" } },
      async (request, reply) => {
        const auth = await authenticate(request);
        const order = await acme.order(auth, request.params.id);
        if (order.status === "processing") reply.header("retry-after", PROCESSING_RETRY_AFTER_SECONDS);
        return orderWire(order, auth.urls, auth.profile.name);
      },
    );

    scope.post<{ Params: Params & { id: string } }>(
      "/acme/:profile/order/:id/finalize",
      { config: { operation: "AcmeFinalize" } },
      async (request, reply) => {
        const auth = await authenticate(request);
        const order = await acme.finalize(auth, request.params.id);
        reply.header("location", auth.urls.order(order.id));
        if (order.status === "processing") reply.header("retry-after", PROCESSING_RETRY_AFTER_SECONDS);
        return orderWire(order, auth.urls, auth.profile.name);
      },
    );

    scope.post<{ Params: Params & { id: string } }>(
      "/acme/:profile/authz/:id",
      { config: { operation: "AcmeAuthorization" } },
      async (request) => {
        const auth = await authenticate(request);
        return authorizationWire(await acme.authorization(auth, request.params.id), auth.urls);
      },
    );

    scope.post<{ Params: Params & { id: string } }>(
      "/acme/:profile/chall/:id",
      { config: { operation: "AcmeChallenge" } },
      async (request, reply) => {
        const auth = await authenticate(request);
        const { challenge, authorization } = await acme.respond(auth, request.params.id);
        reply.header("link", `<${auth.urls.authz(authorization.id)}>;rel="up"`);
        return challengeWire(challenge, auth.urls);
      },
    );

    scope.post<{ Params: Params & { id: string } }>(
      "/acme/:profile/cert/:id",
      { config: { operation: "AcmeCertificate" } },
      async (request, reply) => {
        const auth = await authenticate(request);
        const chain = await acme.certificate(auth, request.params.id);
        return reply
          .type("application/pem-certificate-chain")
          .send(chain.map((der) => toPem("CERTIFICATE", der)).join(""));
      },
    );

    scope.post<{ Params: Params }>(
      "/acme/:profile/revoke-cert",
      { config: { operation: "AcmeRevokeCertificate" } },
      async (request, reply) => {
        const auth = await authenticate(request, { jwk: true });
        await acme.revoke(auth);
        return reply.status(200).send();
      },
    );

    scope.get<{ Params: Params & { id: string } }>(
      "/acme/:profile/renewal-info/:id",
      { config: { operation: "AcmeRenewalInfo" } },
      async (request, reply) => {
        const { start, end } = await acme.renewalInfo(request.params.profile, request.params.id);
        reply.header("retry-after", ARI_RETRY_AFTER_SECONDS);
        return { suggestedWindow: { start: start.toISOString(), end: end.toISOString() } };
      },
    );
  });
}

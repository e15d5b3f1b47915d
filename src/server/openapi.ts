import { z } from 'zod';
import type { Operation } from './operation.js';

type JsonSchema = Record<string, unknown>;

function toJsonSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, {
    io: 'input',
    target: 'openapi-3.0',
    unrepresentable: 'any',
  }) as JsonSchema;
  delete json.$schema;
  return json;
}

const errorResponse = {
  description: 'An error with a stable code and a message naming the field at fault',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          error: {
            type: 'object',
            properties: { code: { type: 'string' }, message: { type: 'string' } },
            required: ['code', 'message'],
          },
        },
        required: ['error'],
      },
    },
  },
};

/** The OpenAPI 3 document, written from the same operation table and schemas the router validates with. */
export function openApiDocument(operations: readonly Operation[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const parameters: unknown[] = [];
    for (const [, param] of op.path.matchAll(/\{(\w+)\}/g)) {
      parameters.push({
        name: param,
        in: 'path',
        required: true,
        description:
          param === 'name' ? 'A secret name; it may contain "/" (send it unescaped)' : undefined,
        schema: { type: 'string' },
      });
    }
    if (op.query) {
      const query = toJsonSchema(op.query) as {
        properties?: Record<string, JsonSchema>;
        required?: string[];
      };
      for (const [name, schema] of Object.entries(query.properties ?? {})) {
        parameters.push({
          name,
          in: 'query',
          required: query.required?.includes(name) ?? false,
          schema,
        });
      }
    }
    const responses: Record<string, unknown> = {
      [String(op.status ?? 200)]: { description: 'Success' },
      '400': errorResponse,
      '401': errorResponse,
      '403': errorResponse,
      '429': errorResponse,
    };
    if (op.path.includes('{')) responses['404'] = errorResponse;
    paths[op.path] ??= {};
    (paths[op.path] as Record<string, unknown>)[op.method.toLowerCase()] = {
      operationId: op.id,
      summary: op.summary,
      description: `Needs the ${op.access.capability} capability (${describeScope(op)}).`,
      parameters,
      ...(op.body
        ? {
            requestBody: {
              required: !op.body.safeParse(undefined).success,
              content: { 'application/json': { schema: toJsonSchema(op.body) } },
            },
          }
        : {}),
      responses,
      security: [{ bearer: [] }],
    };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Rotor API',
      version,
      description:
        'Encrypted, versioned secrets rotated with zero downtime. Actions on a secret are a `:verb` after its name.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}

function describeScope(op: Operation): string {
  switch (op.access.scope) {
    case 'secret':
      return 'on the secret';
    case 'bodyName':
      return 'on the name in the body';
    case 'filtered':
      return 'results are limited to what the token may see';
    case 'everywhere':
      return 'on **';
  }
}

// The checks of a GraphQL document that answer with the catalogue code REST gives the same mistake
// (src/model/errors.ts), made where graphql-js finds the mistake rather than read from its message:
// - an unknown enum value (granularity: week, as a literal, a string or a variable) is
//   HG_ERR_UNKNOWN_GRANULARITY, _DIMENSION or _METRIC: the enums' parseLiteral and parseValue throw it;
// - a missing required argument is HG_ERR_MISSING_PARAMETER (RequiredArgumentsRule);
// - a document of more than maxTokens tokens is HG_ERR_GRAPHQL_TOO_COMPLEX, counted before parsing.
// The depth and cost limits are in limits.ts; every other document error is HG_ERR_GRAPHQL_VALIDATION.
import {
  type ASTVisitor, GraphQLEnumType, GraphQLError, isRequiredArgument, Kind, Lexer, print, ProvidedRequiredArgumentsRule, Source, specifiedRules,
  TokenKind, type ValidationContext, type ValidationRule, type ValueNode, valueFromASTUntyped
} from 'graphql'
import { errors, type HourglassError } from '../../model/index.js'
import { clip, codedGraphQLError, withProps } from '../errors.js'

/** A literal as the client wrote it: the value of a scalar, the text of a list or an object. */
function literalText (node: ValueNode): string {
  return node.kind === Kind.LIST || node.kind === Kind.OBJECT ? print(node) : String(valueFromASTUntyped(node))
}

/**
 * An input enum whose unknown values raise `unknown(value)`: mercurius copies these onto the
 * schema's enum type (its resolvers for an enum). A value of the wrong JSON type in a variable
 * keeps graphql-js's own error.
 */
export function codedEnum (unknown: (value: string) => HourglassError) {
  return {
    parseValue (this: GraphQLEnumType, value: unknown): unknown {
      if (typeof value === 'string' && (this.getValue(value) ?? null) === null) throw withProps(unknown(clip(value)))
      return GraphQLEnumType.prototype.parseValue.call(this, value)
    },
    parseLiteral (this: GraphQLEnumType, node: ValueNode): unknown {
      if (node.kind !== Kind.ENUM || (this.getValue(node.value) ?? null) === null) throw withProps(unknown(clip(literalText(node))))
      return GraphQLEnumType.prototype.parseLiteral.call(this, node, undefined)
    }
  }
}

/** The input enums of the schema, coded as REST codes the same values. */
export const codedEnums = {
  Granularity: codedEnum((v) => new errors.HG_ERR_UNKNOWN_GRANULARITY(v)),
  Dimension: codedEnum((v) => new errors.HG_ERR_UNKNOWN_DIMENSION(v)),
  Metric: codedEnum((v) => new errors.HG_ERR_UNKNOWN_METRIC(v))
}

/**
 * graphql-js's ProvidedRequiredArgumentsRule with a field's missing argument as
 * HG_ERR_MISSING_PARAMETER; its check of directives' arguments is kept as it is.
 */
export const RequiredArgumentsRule: ValidationRule = (context: ValidationContext): ASTVisitor => {
  const { Field: _uncoded, ...onDirectives } = ProvidedRequiredArgumentsRule(context) as ASTVisitor & { Field?: unknown }
  return {
    ...onDirectives,
    Field: {
      leave (node) {
        const def = context.getFieldDef()
        if (def === null || def === undefined) return
        const given = new Set((node.arguments ?? []).map((a) => a.name.value))
        for (const arg of def.args) {
          if (isRequiredArgument(arg) && !given.has(arg.name)) context.reportError(codedGraphQLError(new errors.HG_ERR_MISSING_PARAMETER(arg.name), [node]))
        }
      }
    }
  }
}

/** graphql-js's specified rules with RequiredArgumentsRule in its place, then `extra`. */
export function documentRules (...extra: ValidationRule[]): ValidationRule[] {
  return [...specifiedRules.map((r) => r === ProvidedRequiredArgumentsRule ? RequiredArgumentsRule : r), ...extra]
}

/** HG_ERR_GRAPHQL_TOO_COMPLEX when the document has more than `maxTokens` tokens (as graphql-js's parser counts them). */
export function checkTokens (text: string, maxTokens: number): void {
  if (text.length <= maxTokens) return // every token is at least one character
  const source = new Source(text)
  const lexer = new Lexer(source)
  let tokens = 0
  let at = 0
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF && tokens <= maxTokens; token = lexer.advance()) {
      tokens++
      at = token.start
    }
  } catch {
    return // a syntax error within the limit: the parser reports it
  }
  if (tokens > maxTokens) {
    const hg = new errors.HG_ERR_GRAPHQL_TOO_COMPLEX(`the document has more than ${maxTokens} tokens`)
    throw new GraphQLError(hg.message, { source, positions: [at], originalError: withProps(hg) })
  }
}

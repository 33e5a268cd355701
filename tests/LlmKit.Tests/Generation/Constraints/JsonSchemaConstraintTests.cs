using System.Text.Json;
using LlmKit.Generation;
using LlmKit.Generation.Constraints;
using LlmKit.Models;
using LlmKit.Testing;
using Validator = Json.Schema.JsonSchema;

namespace LlmKit.Tests.Generation.Constraints;

/// <summary>JSON Schema constraints on real models, every output checked by an independent validator (JsonSchema.Net).</summary>
public class JsonSchemaConstraintTests
{
    /// <summary>Nested: $defs with a recursive $ref, enum, const, pattern, integer range, bounded arrays, anyOf, nullable, optional property.</summary>
    internal const string NestedSchema = """
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "type": "object",
          "properties": {
            "name": { "type": "string", "pattern": "^[A-Z][a-z]{1,8}$" },
            "age": { "type": "integer", "minimum": 3, "maximum": 112 },
            "kind": { "enum": ["cat", "dog", "bird"] },
            "version": { "const": 2 },
            "score": { "type": "number" },
            "nickname": { "type": ["string", "null"], "maxLength": 6 },
            "tags": { "type": "array", "items": { "type": "string", "minLength": 1, "maxLength": 5 }, "minItems": 1, "maxItems": 3 },
            "owner": { "$ref": "#/$defs/person" },
            "id": { "anyOf": [ { "type": "integer", "minimum": -50, "maximum": -7 }, { "type": "boolean" } ] }
          },
          "required": ["name", "age", "kind", "version", "tags", "owner", "id"],
          "additionalProperties": false,
          "$defs": {
            "person": {
              "type": "object",
              "properties": {
                "first": { "type": "string", "maxLength": 4 },
                "friend": { "anyOf": [ { "$ref": "#/$defs/person" }, { "type": "null" } ] }
              },
              "required": ["first", "friend"],
              "additionalProperties": false
            }
          }
        }
        """;

    private static readonly Validator Validator = Validator.FromText(NestedSchema);

    [Fact]
    public async Task Nested_schema_outputs_are_always_valid_on_stories260K()
    {
        await AssertAllValid(LoadedModels.Stories260K, maxNewTokens: 160);
    }

    [Fact]
    public async Task Nested_schema_outputs_are_always_valid_on_byte_level_bpe_gpt2()
    {
        using var model = OnnxGenAIModel.Load(Gpt2Folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        await AssertAllValid(model, maxNewTokens: 160);
    }

    [Fact]
    public void Unsupported_keyword_is_named()
    {
        var e = Assert.Throws<NotSupportedException>(() => OutputConstraint.JsonSchema("""{"type":"object","oneOf":[{"type":"string"}]}"""));
        Assert.Contains("oneOf", e.Message);
        var n = Assert.Throws<NotSupportedException>(() => OutputConstraint.JsonSchema("""{"type":"number","minimum":1.5}"""));
        Assert.Contains("minimum", n.Message);
    }

    /// <summary>
    /// The shared prompts encoded; ids the model's (tiny, random) vocabulary does not cover are dropped (tiny-random-gpt2
    /// has 1,000 logits for GPT-2's 50,257-token tokenizer), and each prompt keeps at least one token.
    /// </summary>
    internal static IEnumerable<int[]> PromptIds(OnnxGenAIModel model) =>
        ConstrainedGenerationTests.Prompts.Select((p, i) =>
        {
            var ids = model.Tokenizer.Encode(p).Where(id => id < model.VocabularySize).ToArray();
            return ids.Length > 0 ? ids : [32 + i];
        });

    /// <summary>
    /// The generated text without the end-of-sequence token: tiny-random-gpt2's EOS id (98) is an ordinary byte token, so
    /// the decoded text carries its byte after the JSON.
    /// </summary>
    internal static string TextBeforeEndOfSequence(OnnxGenAIModel model, GenerationResult result)
    {
        var ids = result.TokenIds.ToArray();
        if (ids.Length > 0 && model.Config.Model.EosTokenIds.Contains(ids[^1]))
        {
            ids = ids[..^1];
        }

        var detokenizer = model.Tokenizer.CreateDetokenizer(isSequenceStart: false);
        var text = new System.Text.StringBuilder();
        foreach (int id in ids)
        {
            text.Append(detokenizer.Append(id));
        }

        return text.Append(detokenizer.Flush()).ToString();
    }

    internal static string Gpt2Folder => Path.GetDirectoryName(SharedFixtures.File("models/onnxruntime-genai-tests/tiny-random-gpt2-fp32/genai_config.json"))!;

    private static async Task AssertAllValid(OnnxGenAIModel model, int maxNewTokens)
    {
        var constraint = OutputConstraint.JsonSchema(NestedSchema);
        int complete = 0;
        foreach (int[] prompt in PromptIds(model))
        {
            var result = await model.GenerateAsync(prompt, new GenerationOptions { Temperature = 1f, Seed = prompt[^1], MaxNewTokens = maxNewTokens, Constraint = constraint });
            Assert.Equal(GenerationFinishReason.EndOfSequence, result.FinishReason);
            var node = System.Text.Json.Nodes.JsonNode.Parse(TextBeforeEndOfSequence(model, result));
            var evaluation = Validator.Evaluate(node, new Json.Schema.EvaluationOptions { OutputFormat = Json.Schema.OutputFormat.List });
            Assert.True(evaluation.IsValid, $"'{result.Text}' is not valid: {string.Join("; ", evaluation.Details.Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Values))}");
            complete++;
        }

        Assert.Equal(ConstrainedGenerationTests.Prompts.Length, complete);
    }
}

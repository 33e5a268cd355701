using System.Text.RegularExpressions;
using LlmKit.Chat;
using LlmKit.Generation;
using LlmKit.Generation.Constraints;
using LlmKit.Testing;
using Microsoft.Extensions.AI;

namespace LlmKit.OnnxRuntimeGenAI.Tests;

/// <summary>
/// Regex, choice and literal constraints on the onnxruntime-genai engine, run by its guidance backend (llguidance), on
/// stories260K: outputs are in the language, and greedy ids equal LlmKit's own engine's. The constraints below have no
/// stretch where the grammar forces several letters: there llguidance allows only the canonical tokenization, LlmKit any
/// fitting token (tests/LlmKit.Oracle.Tests/ConstraintOracleTests.cs), and the ids may then differ.
/// </summary>
[Collection(OgaModelsCollection.Name)]
public sealed class GuidanceConstraintTests(OgaModels models)
{
    // At most 31 bytes of output, so 32 tokens always reach completion and EOS (LlmKit's budget steering never acts).
    private const int MaxNewTokens = 32;

    private const string Pattern = @"[A-Z][a-z]{2,8} (is|was) \d{1,3}(\.\d)? (cm|kg)!?";

    private static readonly string[] Options = ["Once upon a time", "Once", "One day", "a.b (c)*", "[x]"];

    private static readonly string[] Prompts =
    [
        "Once upon a time", "The cat", "Tom had a dog", "Lily went to the park", "One day", "The sun was", "A little bird",
        "Mom said", "The boy was sad", "They played with", "Sara liked", "The big tree", "Ben and Mia", "In the garden",
        "The dog ran", "She found a", "It was a rainy day", "The little girl", "He wanted to", "At night",
        "The fish", "Grandma made",
    ];

    [Fact]
    public async Task Regex_outputs_match_the_pattern_and_equal_LlmKits_own_engine_on_22_prompts()
    {
        var constraint = OutputConstraint.Regex(Pattern);
        var regex = new Regex("^(?:" + Pattern + ")$", RegexOptions.ECMAScript);
        foreach (string text in Prompts)
        {
            var (ours, llmkit) = await GenerateBoth(text, constraint);
            Assert.Matches(regex, ours.Text);
            Assert.Equal(GenerationFinishReason.EndOfSequence, ours.FinishReason);
            Assert.Equal(llmkit.TokenIds, ours.TokenIds);
        }
    }

    [Fact]
    public async Task Choice_outputs_are_an_option_and_equal_LlmKits_own_engine_on_22_prompts()
    {
        var constraint = OutputConstraint.Choice(Options);
        var seen = new HashSet<string>();
        foreach (string text in Prompts)
        {
            var (ours, llmkit) = await GenerateBoth(text, constraint);
            Assert.Contains(ours.Text, Options);
            Assert.Equal(GenerationFinishReason.EndOfSequence, ours.FinishReason);
            Assert.Equal(llmkit.TokenIds, ours.TokenIds);
            seen.Add(ours.Text);
        }

        Assert.True(seen.Count > 1, "the model should pick more than one option over 22 prompts, or the mask is not what decides");
    }

    [Fact]
    public async Task Literal_is_written_exactly_and_streams_the_same_text()
    {
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = MaxNewTokens, Constraint = OutputConstraint.Literal("[x] (1+1=2)?") };
        int[] prompt = LoadedModels.Stories260K.Tokenizer.Encode("The cat");
        var result = await models.Stories260K.GenerateAsync(prompt, options);
        Assert.Equal("[x] (1+1=2)?", result.Text);
        Assert.Equal(GenerationFinishReason.EndOfSequence, result.FinishReason);

        var streamed = new System.Text.StringBuilder();
        await foreach (var update in models.Stories260K.GenerateStreamingAsync(prompt, options))
        {
            streamed.Append(update.Text);
        }

        Assert.Equal(result.Text, streamed.ToString());
    }

    [Fact]
    public async Task Chat_client_output_constraint_runs_on_the_guidance_backend()
    {
        using var ours = new OnnxChatClient(models.Stories260K);
        using var llmkit = new OnnxChatClient(LoadedModels.Stories260K);
        var options = new ChatOptions
        {
            Temperature = 0,
            MaxOutputTokens = MaxNewTokens,
            AdditionalProperties = new() { ["output_constraint"] = OutputConstraint.Choice(Options) },
        };

        var a = await ours.GetResponseAsync("One day", options);
        var b = await llmkit.GetResponseAsync("One day", options);

        Assert.Contains(a.Text, Options);
        Assert.Equal(ChatFinishReason.Stop, a.FinishReason);
        Assert.Equal(((GenerationResult)b.RawRepresentation!).TokenIds, ((GenerationResult)a.RawRepresentation!).TokenIds);
    }

    [Fact]
    public async Task Constraints_llguidance_cannot_read_the_same_way_are_refused_with_what_is_supported()
    {
        var unsupported = new[]
        {
            OutputConstraint.Json(),
            OutputConstraint.JsonSchema("""{"type":"object","properties":{"a":{"type":"integer"}}}"""),
            OutputConstraint.Sequence(OutputConstraint.Literal("a"), OutputConstraint.Regex("[0-9]")),
            OutputConstraint.AnyOf(OutputConstraint.Literal("a"), OutputConstraint.Literal("b")),
            OutputConstraint.TextOr("<tool_call>", OutputConstraint.Json()),
        };
        foreach (var constraint in unsupported)
        {
            var error = await Assert.ThrowsAsync<NotSupportedException>(() =>
                models.Stories260K.GenerateAsync([1, 5], new GenerationOptions { MaxNewTokens = 4, Constraint = constraint }));
            Assert.Contains($"Constraint ({constraint.Description})", error.Message, StringComparison.Ordinal);
            Assert.Contains("OutputConstraint.Regex, Choice and Literal", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_minimum_length_beside_a_constraint_is_refused_by_name()
    {
        // onnxruntime-genai would mask the EOS llguidance requires after "ab" and fail mid-generation.
        var options = new GenerationOptions { MaxNewTokens = 20, MinNewTokens = 8, Constraint = OutputConstraint.Literal("ab") };
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => models.Stories260K.GenerateAsync([1, 5], options));
        Assert.Contains("GenerationOptions.MinNewTokens 8", error.Message, StringComparison.Ordinal);
        Assert.Contains("search.min_length", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_step_the_guidance_backend_fails_on_names_the_constraint()
    {
        // onnxruntime-genai 0.20.0 forces the lead byte 0xC3 that [äöüßé] share through its tokenize callback, which reads the
        // lone byte as U+FFFD; llguidance then rejects the token. LlmKit's own engine writes a character of the class.
        var constraint = OutputConstraint.Regex("[äöüßé]{1,4}");
        int[] prompt = LoadedModels.Stories260K.Tokenizer.Encode("Once upon a time");
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 12, Constraint = constraint };

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => models.Stories260K.GenerateAsync(prompt, options));
        Assert.StartsWith($"Constraint ({constraint.Description}): onnxruntime-genai's guidance backend failed at generated token ", error.Message, StringComparison.Ordinal);
        Assert.Contains("Error committing tokens", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Matches("^[äöüßé]{1,4}$", (await LoadedModels.Stories260K.GenerateAsync(prompt, options)).Text);
    }

    private async Task<(GenerationResult Ours, GenerationResult LlmKit)> GenerateBoth(string text, OutputConstraint constraint)
    {
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = MaxNewTokens, Constraint = constraint };
        int[] prompt = LoadedModels.Stories260K.Tokenizer.Encode(text);
        return (await models.Stories260K.GenerateAsync(prompt, options), await LoadedModels.Stories260K.GenerateAsync(prompt, options));
    }
}

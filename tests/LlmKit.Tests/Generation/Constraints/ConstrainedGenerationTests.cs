using System.Text.Json;
using System.Text.RegularExpressions;
using LlmKit.Generation;
using LlmKit.Generation.Constraints;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Tests.Generation.Constraints;

/// <summary>Constrained decoding end to end on the real stories260K model (SentencePiece with byte fallback).</summary>
public class ConstrainedGenerationTests
{
    private static OnnxGenAIModel Model => LoadedModels.Stories260K;

    internal static readonly string[] Prompts =
    [
        "Once upon a time", "The cat", "Tom had a dog", "Lily went to the park", "One day", "The sun was", "A little bird",
        "Mom said", "The boy was sad", "They played with", "Sara liked", "The big tree", "Ben and Mia", "In the garden",
        "The dog ran", "She found a", "It was a rainy day", "The little girl", "He wanted to", "At night",
        "The fish", "Grandma made",
    ];

    [Fact]
    public async Task Literal_is_produced_exactly_and_ends_with_end_of_sequence()
    {
        var constraint = OutputConstraint.Literal("Hello, world!");
        var result = await Model.GenerateAsync("The cat", new GenerationOptions { Temperature = 0, MaxNewTokens = 40, Constraint = constraint });
        Assert.Equal("Hello, world!", result.Text);
        Assert.Equal(GenerationFinishReason.EndOfSequence, result.FinishReason);
        Assert.Contains(result.TokenIds[^1], Model.Config.Model.EosTokenIds);
    }

    [Fact]
    public async Task Choice_outputs_are_always_one_of_the_options()
    {
        string[] options = ["yes", "no", "maybe later", "Tom"];
        var constraint = OutputConstraint.Choice(options);
        foreach (string prompt in Prompts)
        {
            var result = await Model.GenerateAsync(prompt, new GenerationOptions { Temperature = 1f, Seed = prompt.Length, MaxNewTokens = 20, Constraint = constraint });
            Assert.Contains(result.Text, options);
            Assert.Equal(GenerationFinishReason.EndOfSequence, result.FinishReason);
        }
    }

    [Fact]
    public async Task Json_outputs_always_parse()
    {
        var constraint = OutputConstraint.Json();
        foreach (string prompt in Prompts)
        {
            var result = await Model.GenerateAsync(prompt, new GenerationOptions { Temperature = 1f, Seed = prompt.Length, MaxNewTokens = 48, Constraint = constraint });
            using var document = JsonDocument.Parse(result.Text); // throws when not JSON
            Assert.NotEqual(GenerationFinishReason.ConstraintUnsatisfiable, result.FinishReason);
        }
    }

    [Fact]
    public async Task Regex_outputs_always_match_dotnet_regex()
    {
        const string pattern = @"[A-Z][a-z]{2,8} (is|was) \d{1,3}(\.\d)? (cm|kg)!?";
        var constraint = OutputConstraint.Regex(pattern);
        var regex = new Regex("^(?:" + pattern + ")$", RegexOptions.ECMAScript);
        foreach (string prompt in Prompts)
        {
            var result = await Model.GenerateAsync(prompt, new GenerationOptions { Temperature = 1f, Seed = prompt.Length, MaxNewTokens = 30, Constraint = constraint });
            Assert.Matches(regex, result.Text);
        }
    }
}

/// <summary>Text-or-marker constraints (tool calling's automatic mode).</summary>
public class TextOrConstraintTests
{
    private static OnnxGenAIModel Model => LoadedModels.Stories260K;

    [Fact]
    public async Task Output_is_free_text_not_starting_with_the_marker_or_the_marker_then_json()
    {
        var constraint = OutputConstraint.TextOr("<tool_call>", OutputConstraint.Json());
        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            var result = await Model.GenerateAsync(prompt, new GenerationOptions { Temperature = 1f, Seed = prompt.Length, MaxNewTokens = 30, Constraint = constraint });
            if (result.Text.StartsWith("<tool_call>", StringComparison.Ordinal))
            {
                using var _ = System.Text.Json.JsonDocument.Parse(result.Text["<tool_call>".Length..]);
            }
        }
    }

    [Theory]
    [InlineData("hello there", true)]
    [InlineData("", true)]
    [InlineData("<tool", true)]
    [InlineData("<tool_cal!", true)]
    [InlineData("<tool_call>", false)]
    [InlineData("<tool_call>{\"a\":1}", true)]
    [InlineData("<tool_call>{\"a\":1", false)]
    [InlineData("<tool_call>hello", null)]
    public void Automaton_accepts_exactly_text_or_marker_then_json(string text, bool? complete)
    {
        var automaton = Model.GetConstraintAutomaton(OutputConstraint.TextOr("<tool_call>", OutputConstraint.Json()));
        int state = automaton.Advance(automaton.Start, System.Text.Encoding.UTF8.GetBytes(text));
        if (complete is null)
        {
            Assert.Equal(-1, state);
        }
        else
        {
            Assert.True(state >= 0);
            Assert.Equal(complete.Value, automaton.IsAccepting(state));
        }
    }
}

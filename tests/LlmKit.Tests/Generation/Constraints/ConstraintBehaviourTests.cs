using System.Text;
using System.Text.RegularExpressions;
using LlmKit.Generation;
using LlmKit.Generation.Constraints;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Tests.Generation.Constraints;

/// <summary>End of sequence, budget, unsatisfiable constraints, multi-byte text, speculation and the regex subset, on real models.</summary>
public class ConstraintBehaviourTests
{
    private static OnnxGenAIModel Model => LoadedModels.Stories260K;

    [Fact]
    public async Task Multi_byte_choices_come_out_whole_with_byte_fallback_and_byte_level_bpe()
    {
        // No option needs the byte 0xA5: tiny-random-gpt2 has it only as its EOS token (id 98), which ends the sequence.
        string[] options = ["café", "中文", "naïve 🙂", "Ελλάδα"];
        var constraint = OutputConstraint.Choice(options);
        using var gpt2 = OnnxGenAIModel.Load(JsonSchemaConstraintTests.Gpt2Folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        var seen = new HashSet<string>();
        foreach (var (prompt, i) in ConstrainedGenerationTests.Prompts.Select((p, i) => (p, i)))
        {
            var result = await Model.GenerateAsync(prompt, new GenerationOptions { Temperature = 1.5f, Seed = i, MaxNewTokens = 30, Constraint = constraint });
            Assert.Contains(result.Text, options);
            seen.Add(result.Text);

            var bpe = await gpt2.GenerateAsync([32 + i, 40 + i], new GenerationOptions { Temperature = 1.5f, Seed = i, MaxNewTokens = 30, Constraint = constraint });
            Assert.Contains(JsonSchemaConstraintTests.TextBeforeEndOfSequence(gpt2, bpe), options);
        }

        Assert.True(seen.Count > 1, "sampling at temperature 1.5 over 22 prompts should reach more than one option");
    }

    [Fact]
    public async Task Non_ascii_regex_classes_match_dotnet_regex()
    {
        const string pattern = "[à-ÿ]{2,4}( [α-ω]+)?!";
        var constraint = OutputConstraint.Regex(pattern);
        var regex = new Regex("^(?:" + pattern + ")$");
        foreach (var (prompt, i) in ConstrainedGenerationTests.Prompts.Select((p, i) => (p, i)))
        {
            var result = await Model.GenerateAsync(prompt, new GenerationOptions { Temperature = 1f, Seed = i, MaxNewTokens = 40, Constraint = constraint });
            Assert.Matches(regex, result.Text);
        }
    }

    [Fact]
    public void End_of_sequence_is_allowed_exactly_when_the_output_is_complete()
    {
        var automaton = Model.GetConstraintAutomaton(OutputConstraint.Regex("ab(cd)*"));
        int eos = Model.Config.Model.EosTokenIds[0];
        var mask = new ulong[automaton.WordCount];
        foreach (var (text, complete) in new[] { ("", false), ("a", false), ("ab", true), ("abc", false), ("abcd", true), ("abcdc", false) })
        {
            int state = automaton.Advance(automaton.Start, Encoding.UTF8.GetBytes(text));
            Assert.True(state >= 0);
            Assert.True(automaton.GetMask(state, mask, remainingAfter: null));
            bool eosAllowed = (mask[eos >> 6] & (1UL << (eos & 63))) != 0;
            Assert.Equal(complete, eosAllowed);
            Assert.Equal(complete, automaton.IsAccepting(state));
        }
    }

    [Fact]
    public async Task End_of_sequence_is_forced_at_completion_and_ends_every_choice()
    {
        var constraint = OutputConstraint.Choice(["The end", "Once"]);
        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            var result = await Model.GenerateAsync(prompt, new GenerationOptions { Temperature = 1f, Seed = prompt.Length, MaxNewTokens = 30, Constraint = constraint });
            Assert.Equal(GenerationFinishReason.EndOfSequence, result.FinishReason);
            Assert.Contains(result.TokenIds[^1], Model.Config.Model.EosTokenIds);
            Assert.Equal(result.Text, Model.Tokenizer.Decode(result.TokenIds.ToArray()[..^1]).TrimStart());
        }
    }

    [Fact]
    public async Task A_tight_budget_still_ends_complete()
    {
        // "[a-z ]+\." could go on for ever; with 12 tokens the generator must steer to the final "." and end.
        var constraint = OutputConstraint.Regex(@"[a-z ]+\.");
        foreach (string prompt in ConstrainedGenerationTests.Prompts)
        {
            var result = await Model.GenerateAsync(prompt, new GenerationOptions { Temperature = 1.2f, Seed = prompt.Length, MaxNewTokens = 12, Constraint = constraint });
            Assert.Matches(@"^[a-z ]+\.$", result.Text);
            Assert.Equal(GenerationFinishReason.EndOfSequence, result.FinishReason);
        }
    }

    [Fact]
    public async Task No_allowed_token_ends_with_ConstraintUnsatisfiable()
    {
        // min_tokens masks EOS, which is the only token the finished literal allows.
        var blocked = await Model.GenerateAsync("The cat", new GenerationOptions { Temperature = 0, MaxNewTokens = 20, MinNewTokens = 10, Constraint = OutputConstraint.Literal("Yes") });
        Assert.Equal(GenerationFinishReason.ConstraintUnsatisfiable, blocked.FinishReason);
        Assert.Equal("Yes", blocked.Text);

        // An empty integer range allows nothing from the start: no token at all.
        var empty = OutputConstraint.JsonSchema("""{"type":"integer","minimum":5,"maximum":3}""");
        var none = await Model.GenerateAsync("The cat", new GenerationOptions { Temperature = 0, MaxNewTokens = 20, Constraint = empty });
        Assert.Equal(GenerationFinishReason.ConstraintUnsatisfiable, none.FinishReason);
        Assert.Empty(none.TokenIds);

        var streamed = new List<GenerationUpdate>();
        await foreach (var update in Model.GenerateStreamingAsync("The cat", new GenerationOptions { Temperature = 0, MaxNewTokens = 20, Constraint = empty }))
        {
            streamed.Add(update);
        }

        Assert.Equal(GenerationFinishReason.ConstraintUnsatisfiable, Assert.Single(streamed).FinishReason);
    }

    [Fact]
    public async Task Greedy_output_under_a_permissive_constraint_equals_unconstrained_output()
    {
        // Any text: every token with bytes stays allowed and end-of-sequence is always allowed, so greedy choices are unchanged.
        var anything = OutputConstraint.Regex(@"(.|\n)*");
        foreach (string prompt in ConstrainedGenerationTests.Prompts.Take(6))
        {
            var free = await Model.GenerateAsync(prompt, new GenerationOptions { Temperature = 0, MaxNewTokens = 60 });
            var constrained = await Model.GenerateAsync(prompt, new GenerationOptions { Temperature = 0, MaxNewTokens = 60, Constraint = anything });
            Assert.Equal(free.TokenIds, constrained.TokenIds);
        }
    }

    [Fact]
    public async Task Prompt_lookup_speculation_keeps_constrained_greedy_output_identical()
    {
        var constraint = OutputConstraint.Regex(@"([A-Z][a-z]+ )+[a-z]+\.");
        const string story = "Lily saw a big dog. Lily saw a big dog. Lily saw a big";
        var plain = await Model.GenerateAsync(story, new GenerationOptions { Temperature = 0, MaxNewTokens = 40, Constraint = constraint });
        var speculative = await Model.GenerateAsync(story, new GenerationOptions { Temperature = 0, MaxNewTokens = 40, Constraint = constraint, PromptLookup = new PromptLookupOptions { DraftTokens = 6 } });
        Assert.Equal(plain.TokenIds, speculative.TokenIds);
        Assert.True(speculative.DraftedTokenCount > 0, "the repeated story should give prompt lookup something to draft");
        Assert.Matches(@"^([A-Z][a-z]+ )+[a-z]+\.$", speculative.Text);
    }

    [Fact]
    public void Beam_search_with_a_constraint_is_refused()
    {
        var options = new GenerationOptions { NumBeams = 2, Constraint = OutputConstraint.Json() };
        var e = Assert.Throws<NotSupportedException>(() => Model.BeamSearch(Model.Tokenizer.Encode("The cat"), options));
        Assert.Contains("Constraint", e.Message);
    }

    [Theory]
    [InlineData(@"\d{2,3}-[a-f]+", new[] { "12-a", "123-abc", "1-a", "1234-a", "12-", "12-g" })]
    [InlineData(@"(cat|dog)s?|bird", new[] { "cat", "cats", "dogs", "bird", "birds", "", "ca" })]
    [InlineData(@"[^aeiou\s]+", new[] { "xyz", "bcd", "abc", " ", "é", "日本" })]
    [InlineData(@"^a.c$", new[] { "abc", "a\nc", "a日c", "ac", "abbc" })]
    [InlineData(@"(?:ab){2}x*?", new[] { "abab", "ababxx", "ab", "ababa" })]
    [InlineData(@"\w+\s\W", new[] { "a_1 !", "ab\t.", "ab a", "ab !!" })]
    [InlineData(@"-?(?:0|[1-9]\d*)", new[] { "0", "-0", "10", "01", "-", "123" })]
    public void Regex_subset_accepts_what_dotnet_regex_matches(string pattern, string[] inputs)
    {
        var automaton = Model.GetConstraintAutomaton(OutputConstraint.Regex(pattern));
        string anchored = "^(?:" + pattern.TrimStart('^').TrimEnd('$') + ")$";
        foreach (string input in inputs)
        {
            int state = automaton.Advance(automaton.Start, Encoding.UTF8.GetBytes(input));
            bool accepted = state >= 0 && automaton.IsAccepting(state);
            Assert.True(Regex.IsMatch(input, anchored, RegexOptions.ECMAScript & 0) == accepted, $"'{input}' against '{pattern}': automaton says {accepted}");
        }
    }

    [Theory]
    [InlineData(@"(a)\1", "escape")]
    [InlineData(@"a(?=b)", "(?")]
    [InlineData(@"\bword", "escape")]
    public void Regex_outside_the_subset_is_refused_naming_the_construct(string pattern, string named)
    {
        var e = Assert.Throws<NotSupportedException>(() => OutputConstraint.Regex(pattern));
        Assert.Contains(named, e.Message);
    }
}

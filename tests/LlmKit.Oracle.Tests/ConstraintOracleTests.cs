using System.Text;
using LlmKit.Generation;
using LlmKit.Generation.Constraints;
using LlmKit.Models;
using LlmKit.Testing;
using Xunit.Abstractions;

namespace LlmKit.Oracle.Tests;

/// <summary>
/// LlmKit's constrained decoding against an independent constrained decoder: llguidance inside onnxruntime-genai 0.20.0
/// (<c>GeneratorParams.SetGuidance</c>), on the same folder, greedy. Both runtimes give identical logits, so when both
/// masks are right the chosen ids are identical step for step, end of sequence included.
/// </summary>
/// <remarks>
/// <para>How each side stops. LlmKit allows EOS exactly when the output is complete and appends the EOS id it picks
/// (finish reason EndOfSequence). onnxruntime-genai masks to llguidance's mask (EOS allowed when complete, or the only
/// token when nothing may follow) and leaves the EOS it picks out of <c>GetSequence</c>; so its run ended with EOS
/// exactly when the sequence is shorter than max_length, and the EOS id (eos_token_id[0], the folder's only one) is
/// appended for the comparison. Both lists therefore run up to and including completion.</para>
/// <para>Budget. LlmKit steers to the shortest completion when MaxNewTokens runs short; llguidance does not. Every
/// pattern here matches at most <see cref="MaxNewTokens"/> - 1 bytes, and every token carries at least one byte, so
/// the budget never binds and both sides must complete (asserted). Unbounded patterns (<c>*</c>, <c>+</c>) are left
/// out for that reason, not because of a difference in language.</para>
/// </remarks>
public class ConstraintOracleTests(ITestOutputHelper output)
{
    private const int MaxNewTokens = 48;

    private static string Stories => BuilderFormTests.FolderFor("official-fp32");

    internal static readonly string[] Prompts =
    [
        "Once upon a time", "The dog barked", "Lucy had a red hat", "Max went to the shop", "Later that day", "The moon was",
        "A small frog", "Dad said", "The girl was happy", "They ran to", "Tim liked", "The old house", "Anna and Sam",
        "By the river", "The cat jumped", "He saw a", "It was a sunny day", "The big bear", "She wanted to", "In the morning",
        "The duck", "Grandpa told",
    ];

    /// <summary>Regexes in LlmKit's subset, each at most 47 UTF-8 bytes long (see the remarks on the budget).</summary>
    public static TheoryData<string> Patterns => new()
    {
        @"[A-Z][a-z]{2,8} (is|was) \d{1,3}(\.\d)? (cm|kg)!?", // classes, bounded repetition, alternation, optional group, \d
        @"(yes|no|maybe)(, (yes|no|maybe)){0,3}",
        @"[a-z ]{3,20}\.",
        @"(Once|One day), [A-Z][a-z]{1,7} (ran|saw|had) (a|the) [a-z]{2,9}\.",
        @"\w{2,10}( \w{2,10}){0,2}", // \w is ASCII in LlmKit; llguidance gets it spelled out
        @"(?:0|[1-9]\d{0,3})-(?:0|[1-9]\d{0,3})",
        // Non-ASCII class: two-byte characters through byte fallback. No byte of a character is forced on purpose (two lead
        // bytes, several characters each): when llguidance forces part of a UTF-8 sequence (0xC3 for [äöüßé], 0x82 0xAC
        // after the 0xE2 of €) onnxruntime-genai 0.20.0's tokenize callback reads it as U+FFFD and the oracle throws
        // "token doesn't satisfy the grammar". That is an oracle limit, not a language difference.
        @"[äöüßéαβγ]{1,4}[a-z]{0,5}",
        @"[α-ω]{2,6}( [α-ω]{2,6})?",
        @"[^a-z\n]{1,6}", // negated class over all of Unicode
        @"^\s?[A-Za-z]{1,5}\s[0-9]{2}$", // anchors accepted and ignored; \s is ASCII whitespace
    };

    public static TheoryData<string> ChoiceSets => new()
    {
        "yes|no|maybe later|Tom",
        "Once upon a time|Once|One day|a.b (c)*|[x]",
        "ünïcode|ascii|€uro|",
    };

    [Theory]
    [MemberData(nameof(Patterns))]
    public void Regex_constrained_greedy_ids_match_llguidance_on_stories260K(string pattern) =>
        AssertSameIds(Stories, OutputConstraint.Regex(pattern));

    [Theory]
    [MemberData(nameof(ChoiceSets))]
    public void Choice_constrained_greedy_ids_match_llguidance_on_stories260K(string options) =>
        AssertSameIds(Stories, OutputConstraint.Choice(options.Split('|')));

    [Fact]
    public void Literal_constrained_greedy_ids_match_llguidance_on_stories260K() =>
        AssertSameIds(Stories, OutputConstraint.Literal("Hello, world! (1+1=2)"));

    private void AssertSameIds(string folder, OutputConstraint constraint)
    {
        var (type, data) = constraint.Guidance ?? throw new InvalidOperationException($"{constraint.Description} has no guidance form.");
        using var official = new OfficialRuntime(folder);
        using var model = LlmKitRuntime.Load(folder);
        var automaton = model.GetConstraintAutomaton(constraint);
        int eos = model.Config.Model.EosTokenIds[0];
        int completed = 0;
        int comparedSteps = 0;
        var forcedStops = new List<string>();
        foreach (string text in Prompts)
        {
            int[] prompt = model.Tokenizer.Encode(text);
            int maxLength = prompt.Length + MaxNewTokens;
            int[] sequence = official.Generate(prompt, maxLength, p => p.SetGuidance(type, data));
            var expected = sequence[prompt.Length..].ToList();
            if (sequence.Length < maxLength)
            {
                expected.Add(eos); // picked by onnxruntime-genai, left out of GetSequence
            }

            var (actual, finish) = GenerateWithLlmKit(model, prompt, constraint);
            int step = FirstDifference(expected, actual);
            if (step < 0)
            {
                Assert.Equal(GenerationFinishReason.EndOfSequence, finish); // both completed within the budget
                completed++;
                comparedSteps += actual.Count;
                continue;
            }

            // The one documented difference: where the grammar forces the next bytes, llguidance allows only the
            // canonical tokenization of the forced text (its fast-forward rule, docs/fast_forward.md); LlmKit lets the
            // model pick any token whose bytes fit. Accept a difference only there, and only if llguidance's token is
            // in LlmKit's mask; the two runs then see different contexts, so the comparison of that prompt ends.
            string common = Decode(model, actual.Take(step));
            int state = automaton.Advance(automaton.Start, Bytes(model, actual.Take(step)));
            var mask = new ulong[automaton.WordCount];
            automaton.GetMask(state, mask, null);
            bool forced = state >= 0 && !automaton.IsAccepting(state) && ForcedByte(automaton, state) is not null;
            bool allowed = step < expected.Count && expected[step] < automaton.VocabularySize && ((mask[expected[step] / 64] >> (expected[step] % 64)) & 1) != 0;
            if (!forced || !allowed)
            {
                Assert.Fail($"{constraint.Description}, prompt '{text}': first difference at step {step}: llguidance {At(model, expected, step)}, " +
                    $"LlmKit {At(model, actual, step)}; common text '{common}' (forced next byte: {forced}; llguidance's token in LlmKit's mask: {allowed})");
            }

            forcedStops.Add($"'{text}' at step {step}");
            comparedSteps += step;
        }

        output.WriteLine($"{constraint.Description}: {completed}/{Prompts.Length} prompts identical to completion, {comparedSteps} identical steps; " +
            $"stopped at a forced stretch: {(forcedStops.Count == 0 ? "none" : string.Join(", ", forcedStops))}");

        // The comparison must cover real decoding, not only forced stretches.
        Assert.True(comparedSteps >= Prompts.Length, $"{constraint.Description}: only {comparedSteps} identical steps compared");
        Assert.True(completed > 0 || forcedStops.Count > 0);
    }

    private static byte[] Bytes(OnnxGenAIModel model, IEnumerable<int> tokens)
    {
        var bytes = new List<byte>();
        foreach (int token in tokens)
        {
            bytes.AddRange(model.Tokenizer.TokenBytes(token));
        }

        return [.. bytes];
    }

    /// <summary>The only byte that may follow in <paramref name="state"/>, or null when there are several.</summary>
    private static byte? ForcedByte(ConstraintAutomaton automaton, int state)
    {
        byte? only = null;
        for (int b = 0; b < 256; b++)
        {
            if (automaton.Advance(state, [(byte)b]) >= 0)
            {
                if (only is not null)
                {
                    return null;
                }

                only = (byte)b;
            }
        }

        return only;
    }

    private static (List<int> Tokens, GenerationFinishReason? Finish) GenerateWithLlmKit(OnnxGenAIModel model, int[] prompt, OutputConstraint constraint)
    {
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = MaxNewTokens, Constraint = constraint };
        using var generator = model.CreateGenerator(prompt, options);
        while (!generator.IsDone)
        {
            generator.GenerateNextToken();
        }

        return ([.. generator.GeneratedTokens], generator.FinishReason);
    }

    private static int FirstDifference(List<int> a, List<int> b)
    {
        for (int i = 0; i < Math.Max(a.Count, b.Count); i++)
        {
            if (i >= a.Count || i >= b.Count || a[i] != b[i])
            {
                return i;
            }
        }

        return -1;
    }

    private static string At(OnnxGenAIModel model, List<int> tokens, int step) =>
        step < tokens.Count ? $"{tokens[step]} '{Decode(model, [tokens[step]])}'" : "(nothing: ended)";

    private static string Decode(OnnxGenAIModel model, IEnumerable<int> tokens) => model.Tokenizer.Decode([.. tokens]);
}

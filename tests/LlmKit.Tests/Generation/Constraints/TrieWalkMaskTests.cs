using LlmKit.Generation;
using LlmKit.Generation.Constraints;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.Tests.Generation.Constraints;

/// <summary>
/// The trie walk (first-byte subtrees, byte-class rows, sparse and shared dense masks, distances tallied per run of
/// nodes) against the definition of a mask, token by token: a token is allowed when its bytes keep the output in
/// the language and, under a budget, the output can still be completed in that many bytes after it; end of sequence
/// exactly when the output is complete.
/// </summary>
public class TrieWalkMaskTests
{
    private static readonly int[] Budgets = [0, 1, 2, 3, 5, 8, 13, 40];

    public static TheoryData<string> Constraints => ["nested schema", "bounded array of bounded strings", "regex", "json", "choice"];

    [Theory]
    [MemberData(nameof(Constraints))]
    public void Masks_on_stories260K_equal_the_token_by_token_definition(string name) =>
        CheckRandomWalks(LoadedModels.Stories260K, name);

    [Theory]
    [MemberData(nameof(Constraints))]
    public void Masks_on_byte_level_bpe_equal_the_token_by_token_definition(string name)
    {
        using var gpt2 = OnnxGenAIModel.Load(JsonSchemaConstraintTests.Gpt2Folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        CheckRandomWalks(gpt2, name);
    }

    [Theory]
    [MemberData(nameof(Constraints))]
    public void Masks_over_gpt2s_whole_vocabulary_equal_the_token_by_token_definition(string name)
    {
        // tiny-random-gpt2's model has 1,000 logits but its tokenizer holds GPT-2's 50,257 byte-level BPE tokens (up to
        // 128 bytes long): an automaton over all of them exercises deep subtrees, many distances and many dense masks.
        using var gpt2 = OnnxGenAIModel.Load(JsonSchemaConstraintTests.Gpt2Folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        var trie = gpt2.Tokenizer.TokenTrie;
        CheckRandomWalks(gpt2, name, () => new ConstraintAutomaton(Make(name).Grammar, trie, gpt2.Config.Model.EosTokenIds, trie.VocabularySize), walks: 2, steps: 25);
    }

    [Fact]
    public async Task Large_length_and_item_bounds_compile_and_hold()
    {
        // Each counted string position and array slot calls a shared rule, so bounds this large stay small grammars
        // (unrolled copies of a JSON string character would make tens of millions of states).
        const string schema = """{"type":"array","items":{"type":"string","maxLength":1000},"minItems":2,"maxItems":1000}""";
        var constraint = OutputConstraint.JsonSchema(schema);
        var validator = Json.Schema.JsonSchema.FromText(schema);
        foreach (var (prompt, i) in ConstrainedGenerationTests.Prompts.Take(4).Select((p, i) => (p, i)))
        {
            var result = await LoadedModels.Stories260K.GenerateAsync(prompt, new GenerationOptions { Temperature = 1f, Seed = i, MaxNewTokens = 60, Constraint = constraint });
            var evaluation = validator.Evaluate(System.Text.Json.Nodes.JsonNode.Parse(result.Text));
            Assert.True(evaluation.IsValid, result.Text);
        }
    }

    private static OutputConstraint Make(string name) => name switch
    {
        "nested schema" => OutputConstraint.JsonSchema(JsonSchemaConstraintTests.NestedSchema),
        "bounded array of bounded strings" => OutputConstraint.JsonSchema("""{"type":"array","items":{"type":"string","maxLength":6},"minItems":1,"maxItems":4}"""),
        "regex" => OutputConstraint.Regex(@"[A-Z][a-z]{2,12}( [a-z]{1,12}){2,6}\."),
        "json" => OutputConstraint.Json(),
        "choice" => OutputConstraint.Choice(["the cat sat", "a dog ran home", "Lily found a ball", "été"]),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static void CheckRandomWalks(OnnxGenAIModel model, string name) =>
        CheckRandomWalks(model, name, () => model.GetConstraintAutomaton(Make(name)), walks: 4, steps: 40);

    private static void CheckRandomWalks(OnnxGenAIModel model, string name, Func<ConstraintAutomaton> create, int walks, int steps)
    {
        var eos = model.Config.Model.EosTokenIds.ToHashSet();
        for (int walk = 0; walk < walks; walk++)
        {
            // A fresh constraint instance per walk: its automaton meets every state cold.
            var automaton = create();
            int vocabulary = automaton.VocabularySize;
            var mask = new ulong[automaton.WordCount];
            var random = new Random(walk);
            int state = automaton.Start;
            for (int step = 0; step < steps; step++)
            {
                var next = new int[vocabulary];
                var candidates = new List<int>();
                for (int id = 0; id < vocabulary; id++)
                {
                    var bytes = model.Tokenizer.TokenBytes(id);
                    next[id] = bytes.Length == 0 || eos.Contains(id) ? -1 : automaton.Advance(state, bytes);
                    if (next[id] >= 0)
                    {
                        candidates.Add(id);
                    }
                }

                bool accepting = automaton.IsAccepting(state);
                foreach (int? budget in Budgets.Select(b => (int?)b).Prepend(null))
                {
                    bool any = automaton.GetMask(state, mask, budget);
                    int allowedCount = 0;
                    for (int id = 0; id < vocabulary; id++)
                    {
                        bool expected = eos.Contains(id)
                            ? accepting
                            : next[id] >= 0 && (budget is null || automaton.MinBytesToComplete(next[id]) <= budget);
                        bool actual = (mask[id >> 6] & (1UL << (id & 63))) != 0;
                        Assert.True(expected == actual, $"{name}, walk {walk}, step {step}, budget {budget?.ToString() ?? "none"}: token {id} expected {(expected ? "allowed" : "blocked")}");
                        allowedCount += actual ? 1 : 0;
                    }

                    Assert.True(any == allowedCount > 0, $"{name}, walk {walk}, step {step}, budget {budget?.ToString() ?? "none"}: reported {(any ? "some" : "no")} token allowed, {allowedCount} set in the vocabulary of {vocabulary}, bits beyond it: {string.Join(",", Enumerable.Range(vocabulary, (mask.Length * 64) - vocabulary).Where(id => (mask[id >> 6] & (1UL << (id & 63))) != 0))}");
                }

                if (candidates.Count == 0)
                {
                    break;
                }

                int chosen = candidates[random.Next(candidates.Count)];
                state = next[chosen];
            }
        }
    }
}

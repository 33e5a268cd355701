using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>The models the numerical tests run on: the real stories260K and synthetic shapes it does not cover.</summary>
internal static class TestCases
{
    /// <summary>Grouped-query attention (8 query heads over 2 kv heads), tied classifier.</summary>
    public static readonly LlamaConfig GqaTied = new(Dim: 64, HiddenDim: 96, Layers: 2, Heads: 8, KvHeads: 2, VocabSize: 320, SeqLen: 256);

    /// <summary>Plain multi-head attention, untied classifier, odd feed-forward width, head size 12.</summary>
    public static readonly LlamaConfig MhaUntiedOddHidden = new(Dim: 48, HiddenDim: 131, Layers: 2, Heads: 4, KvHeads: 4, VocabSize: 300, SeqLen: 256, SharedClassifier: false);

    /// <summary>Head size 16 (the size GroupQueryAttention's fused rotary needs), GQA, untied.</summary>
    public static readonly LlamaConfig HeadSize16 = new(Dim: 64, HiddenDim: 160, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 300, SeqLen: 256, SharedClassifier: false);

    public const int Seed = 1234;

    public static IEnumerable<object[]> ModelNames =>
        [["stories260K"], ["synthetic-gqa-tied"], ["synthetic-mha-untied-odd-hidden"], ["synthetic-head16"]];

    public static (string Folder, string Checkpoint) Model(string name) => name switch
    {
        "stories260K" => (TestModels.Stories260KFolder, SharedFixtures.Stories260KCheckpoint),
        _ => Synthetic(ConfigOf(name)),
    };

    public static LlamaConfig ConfigOf(string name) => name switch
    {
        "synthetic-gqa-tied" => GqaTied,
        "synthetic-mha-untied-odd-hidden" => MhaUntiedOddHidden,
        "synthetic-head16" => HeadSize16,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown test model."),
    };

    /// <summary>Three prompts for a model: text for stories260K, seeded random ids otherwise; the last has >= 200 tokens.</summary>
    public static int[][] Prompts(string name, Llama2cCheckpoint checkpoint)
    {
        if (name == "stories260K")
        {
            var encoder = new ReferenceBpeEncoder(Llama2cTokenizerFile.Load(SharedFixtures.Stories260KTokenizer, checkpoint.Config.VocabSize));
            return [.. StoryPrompts.Select(p => encoder.Encode(p))];
        }

        var random = new Random(Seed);
        return [.. new[] { 3, 17, 210 }.Select(n => Enumerable.Range(0, n).Select(_ => random.Next(checkpoint.Config.VocabSize)).ToArray())];
    }

    public static readonly string[] StoryPrompts =
    [
        "Once upon a time",
        "Lily and Ben went to the park. They saw a big dog.",
        "Once upon a time, there was a little boy named Tim. Tim liked to play with his red ball in the garden. " +
        "One day, Tim saw a small bird sitting on a tree. The bird was sad because it could not fly. " +
        "Tim wanted to help the bird, so he asked his mom for help. His mom said, \"Let's give the bird some water.\" " +
        "They gave the bird water and food, and soon the bird felt better. The bird sang a happy song and flew away. " +
        "Tim was very happy. He learned that helping others makes everyone feel good. " +
        "The next day, Tim went back to the garden and saw the bird again with its friends.",
    ];

    private static (string Folder, string Checkpoint) Synthetic(LlamaConfig config) =>
        (TestModels.Synthetic(config, Seed), TestModels.SyntheticCheckpoint(config, Seed).Checkpoint);
}

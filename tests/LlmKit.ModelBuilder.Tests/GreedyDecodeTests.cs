using LlmKit.Testing;
using Microsoft.ML.Tokenizers;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>The converted stories260K, run greedily through ONNX Runtime, writes llama2.c's published story.</summary>
public sealed class GreedyDecodeTests
{
    private const int Steps = 256; // llama2.c's -n 256 counts the prompt's tokens

    [Fact]
    public void OrtGreedyLoopReproducesTheLlama2cReferenceText()
    {
        string folder = TestModels.Stories260KFolder;
        var tokenizer = LoadTokenizer(folder);
        int[] prompt = [.. tokenizer.EncodeToIds("Once upon a time", addBeginningOfSentence: true, addEndOfSentence: false)];

        int[] generated = GreedyWithOrt(folder, prompt);
        string text = tokenizer.Decode(generated, considerSpecialTokens: false);

        Assert.True(SharedFixtures.Stories260KReferenceText.Length >= 200);
        Assert.StartsWith(SharedFixtures.Stories260KReferenceText, text, StringComparison.Ordinal);
    }

    [Fact]
    public void OrtGreedyLoopPicksTheSameTokensAsTheReference()
    {
        string folder = TestModels.Stories260KFolder;
        int[] prompt = [.. LoadTokenizer(folder).EncodeToIds("Once upon a time", addBeginningOfSentence: true, addEndOfSentence: false)];

        int[] expected = GreedyWithReference(prompt);
        int[] actual = GreedyWithOrt(folder, prompt);

        Assert.True(expected.Length > 100, $"the reference stopped after {expected.Length} tokens");
        Assert.Equal(expected, actual);
    }

    internal static SentencePieceTokenizer LoadTokenizer(string folder)
    {
        using var stream = File.OpenRead(Path.Combine(folder, "tokenizer.model"));
        return SentencePieceTokenizer.Create(stream, addBeginningOfSentence: true, addEndOfSentence: false);
    }

    // Prefill the prompt, then feed back the argmax until Steps tokens in total or BOS/EOS (llama2.c's stop rule).
    private static int[] GreedyWithOrt(string folder, int[] prompt)
    {
        using var decoder = new OrtDecoder(folder);
        var (logits, cache) = decoder.Prefill(prompt);
        var tokens = new List<int>(prompt);
        int next = Numerics.ArgMax(logits.AsSpan((prompt.Length - 1) * decoder.VocabSize, decoder.VocabSize));
        while (tokens.Count < Steps && next is not (Llama2cTokenizerFile.BosId or Llama2cTokenizerFile.EosId))
        {
            tokens.Add(next);
            (logits, cache) = decoder.Decode(next, cache);
            next = Numerics.ArgMax(logits);
        }

        return [.. tokens];
    }

    private static int[] GreedyWithReference(int[] prompt)
    {
        var reference = TestModels.Reference(SharedFixtures.Stories260KCheckpoint);
        var tokens = new List<int>(prompt);
        float[] logits = [];
        for (int pos = 0; pos < prompt.Length; pos++)
        {
            logits = reference.Forward(prompt[pos], pos);
        }

        int next = Numerics.ArgMax(logits);
        while (tokens.Count < Steps && next is not (Llama2cTokenizerFile.BosId or Llama2cTokenizerFile.EosId))
        {
            tokens.Add(next);
            logits = reference.Forward(next, tokens.Count - 1);
            next = Numerics.ArgMax(logits);
        }

        return [.. tokens];
    }
}

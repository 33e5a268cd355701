using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>The ONNX graph computes the same logits as the managed reference forward pass, at every position.</summary>
public sealed class LogitsMatchReferenceTests
{
    // Both sides compute in float32 but sum in different orders (ORT's blocked MatMul vs sequential dot products);
    // with logits of magnitude <= ~30 the accumulated rounding stays around 1e-5. 1e-4 leaves headroom while
    // any real error (RoPE pairing, mask, cache, head grouping) moves logits by 1e-2 or more.
    private const float Tolerance = 1e-4f;

    [Theory]
    [MemberData(nameof(TestCases.ModelNames), MemberType = typeof(TestCases))]
    public void PrefillAndDecodeMatchReferenceAtEveryPosition(string model)
    {
        var (folder, checkpointPath) = TestCases.Model(model);
        var checkpoint = TestModels.Checkpoint(checkpointPath);
        int vocab = checkpoint.Config.VocabSize;
        int[][] prompts = TestCases.Prompts(model, checkpoint);
        Assert.True(prompts.Max(p => p.Length) >= 200, "one prompt must have at least 200 tokens");

        using var decoder = new OrtDecoder(folder);
        foreach (int[] prompt in prompts)
        {
            var reference = TestModels.Reference(checkpointPath);
            float[][] expected = [.. prompt.Select((token, pos) => reference.Forward(token, pos))];

            var (prefill, _) = decoder.Prefill(prompt);
            var cache = KvCache.Empty(decoder.Layers, 1);
            for (int pos = 0; pos < prompt.Length; pos++)
            {
                float prefillDiff = Numerics.MaxAbsDiff(prefill.AsSpan(pos * vocab, vocab), expected[pos]);
                Assert.True(prefillDiff <= Tolerance, $"{model}, prompt of {prompt.Length} tokens, prefill position {pos}: max |diff| {prefillDiff}");

                (float[] step, cache) = decoder.Decode(prompt[pos], cache);
                float decodeDiff = Numerics.MaxAbsDiff(step, expected[pos]);
                Assert.True(decodeDiff <= Tolerance, $"{model}, prompt of {prompt.Length} tokens, decode position {pos}: max |diff| {decodeDiff}");
            }

            Assert.Equal(prompt.Length, cache.Length);
        }
    }

    [Theory]
    [MemberData(nameof(TestCases.ModelNames), MemberType = typeof(TestCases))]
    public void LeftPaddedBatchMatchesUnpaddedSingleRuns(string model)
    {
        var (folder, checkpointPath) = TestCases.Model(model);
        int vocab = TestModels.Checkpoint(checkpointPath).Config.VocabSize;
        int[][] prompts = TestCases.Prompts(model, TestModels.Checkpoint(checkpointPath));
        int[] shortPrompt = prompts[0].Length >= 3 ? prompts[0] : prompts[1];
        int[] longPrompt = prompts[1];
        if (shortPrompt.Length == longPrompt.Length)
        {
            shortPrompt = shortPrompt[..^1];
        }

        using var decoder = new OrtDecoder(folder);
        int width = Math.Max(shortPrompt.Length, longPrompt.Length);
        int[][] rows = [shortPrompt, longPrompt];

        // Left padding: pad id 0, mask 0, position 0 for pads; real tokens keep positions 0..n-1.
        var ids = new long[2 * width];
        var mask = new long[2 * width];
        var positions = new long[2 * width];
        for (int r = 0; r < 2; r++)
        {
            int pad = width - rows[r].Length;
            for (int i = 0; i < rows[r].Length; i++)
            {
                ids[(r * width) + pad + i] = rows[r][i];
                mask[(r * width) + pad + i] = 1;
                positions[(r * width) + pad + i] = i;
            }
        }

        var (batchLogits, batchCache) = decoder.Run(2, ids, mask, positions, KvCache.Empty(decoder.Layers, 2));

        // Then one decode step for both rows, so padded cache entries are exercised as past too.
        int[] next = [5, 7];
        long[] stepMask = new long[2 * (width + 1)];
        for (int r = 0; r < 2; r++)
        {
            Array.Copy(mask, r * width, stepMask, r * (width + 1), width);
            stepMask[(r * (width + 1)) + width] = 1;
        }

        var (stepLogits, _) = decoder.Run(2, [next[0], next[1]], stepMask, [rows[0].Length, rows[1].Length], batchCache);

        for (int r = 0; r < 2; r++)
        {
            var (single, singleCache) = decoder.Prefill(rows[r]);
            int pad = width - rows[r].Length;
            for (int i = 0; i < rows[r].Length; i++)
            {
                float diff = Numerics.MaxAbsDiff(batchLogits.AsSpan(((r * width) + pad + i) * vocab, vocab), single.AsSpan(i * vocab, vocab));
                Assert.True(diff <= Tolerance, $"{model}, row {r}, position {i}: padded batch vs single max |diff| {diff}");
            }

            var (singleStep, _) = decoder.Decode(next[r], singleCache);
            float stepDiff = Numerics.MaxAbsDiff(stepLogits.AsSpan(r * vocab, vocab), singleStep);
            Assert.True(stepDiff <= Tolerance, $"{model}, row {r}, decode after padded prefill: max |diff| {stepDiff}");
        }
    }
}

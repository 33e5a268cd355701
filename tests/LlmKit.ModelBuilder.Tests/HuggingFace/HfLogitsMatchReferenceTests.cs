namespace LlmKit.ModelBuilder.Tests.HuggingFace;

/// <summary>Converted Hugging Face folders compute the reference forward's logits, prefill and decode, at every position.</summary>
public sealed class HfLogitsMatchReferenceTests
{
    // float32 on both sides, different summation orders (blocked MatMul vs sequential dots), plus MLAS's tanh in
    // FastGelu (rational approximation, ~1e-6 relative). Observed differences are ~1e-5 on logits of magnitude < 10;
    // a real error (RoPE halves vs pairs, mask, window, bias, norm offset) moves them by 1e-2 or more.
    private const float Tolerance = 2e-4f;

    [Theory]
    [MemberData(nameof(HfCases.Names), MemberType = typeof(HfCases))]
    public void Fp32_prefill_and_decode_match_the_reference(string name) =>
        AssertMatches(name, HfCases.Converted(name), 48);

    [Fact]
    public void Int4_prefill_and_decode_match_the_reference_on_int4_exact_weights()
    {
        // Projections snapped to the int4 grid, so MatMulNBits stores them exactly; accuracy_level 0 keeps
        // activations in fp32. What is left is float rounding, as for fp32.
        string name = "llama-int4exact";
        AssertMatches(name, HfCases.Converted(name, WeightPrecision.Int4, int4AccuracyLevel: 0), 48);
    }

    [Theory]
    [MemberData(nameof(HfCases.Names), MemberType = typeof(HfCases))]
    public void Fp16_prefill_and_decode_match_the_reference_within_half_precision(string name)
    {
        // Every weight, activation and KV entry is rounded to float16 (unit roundoff 2^-11 = 4.9e-4); through two
        // layers the logits (|logit| < ~6 here) drift by up to ~1e-2. 5e-2 bounds that, while a wrong graph (RoPE
        // pairing, missing bias or norm) moves logits by far more than 0.1 (see the fp32 tests' failures).
        const float fp16Tolerance = 5e-2f;
        AssertMatches(name, HfCases.Converted(name, WeightPrecision.Fp16), 48, fp16Tolerance);
    }

    [Theory]
    [InlineData("mistral")]
    [InlineData("phi3-window")]
    [InlineData("gemma2")]
    public void Logits_beyond_the_sliding_window_match_the_reference(string name)
    {
        // 100 tokens with windows of 16 (Mistral) and 8 (Gemma2's even layers): most positions see only the window.
        AssertMatches(name, HfCases.Converted(name), 100);
    }

    private static void AssertMatches(string name, string folder, int length, float tolerance = Tolerance)
    {
        int[] tokens = HfCases.Tokens(length, seed: length);
        var reference = HfCases.Reference(name, length);
        float[][] expected = [.. tokens.Select((t, pos) => reference.Forward(t, pos))];

        // The prefill is one run of the whole sequence: longrope picks its factor set by that run's length (the long
        // one for every position once it passes the original length), while token-by-token decoding switches midway.
        // For every other case both references are the same computation.
        var prefillReference = HfCases.Reference(name, length);
        float[][] prefillExpected = [.. tokens.Select((t, pos) => prefillReference.Forward(t, pos, sequenceLength: tokens.Length))];

        using var decoder = new OrtDecoder(folder);
        var (prefill, _) = decoder.Prefill(tokens);
        var cache = KvCache.Empty(decoder.Layers, 1);
        int vocab = decoder.VocabSize;
        for (int pos = 0; pos < tokens.Length; pos++)
        {
            float prefillDiff = Numerics.MaxAbsDiff(prefill.AsSpan(pos * vocab, vocab), prefillExpected[pos]);
            Assert.True(prefillDiff <= tolerance, $"{name}: prefill position {pos}: max |diff| {prefillDiff}");
            (float[] step, cache) = decoder.Decode(tokens[pos], cache);
            float decodeDiff = Numerics.MaxAbsDiff(step, expected[pos]);
            Assert.True(decodeDiff <= tolerance, $"{name}: decode position {pos}: max |diff| {decodeDiff}");
        }

        // The logits are not trivially flat: a wrong graph could not hide behind near-zero values.
        Assert.True(expected[^1].Max() - expected[^1].Min() > 0.5f, $"{name}: logits spread {expected[^1].Max() - expected[^1].Min()}");
    }
}

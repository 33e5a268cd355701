using System.Text.Json;
using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>
/// RoPE scaling: the converted folder's logits equal the reference forward's at positions far past the training length
/// (the mechanics of passkey retrieval on a synthetic model), and the frequencies follow Hugging Face's formulas.
/// </summary>
public sealed class RopeScalingTests
{
    /// <summary>Trained at 2,048 positions; head size 16 so the official form fuses RoPE into GroupQueryAttention.</summary>
    internal static readonly LlamaConfig LongContext = new(Dim: 32, HiddenDim: 64, Layers: 2, Heads: 2, KvHeads: 1, VocabSize: 300, SeqLen: 2048);

    internal const int Seed = 4242;

    // As LogitsMatchReferenceTests: float32 on both sides, different summation order. Attention here sums over up to
    // 8,192 positions, whose rounding stays near 1e-5 for logits of order 10; a wrong table (unscaled, wrong band,
    // missing attention factor) moves logits by 1e-1 or more at these positions.
    private const float Tolerance = 1e-4f;

    public static TheoryData<string, OnnxGraphForm> Scalings => new()
    {
        { "linear:4", OnnxGraphForm.OrtGenAI },
        { "linear:4", OnnxGraphForm.Standard },
        { "llama3:4", OnnxGraphForm.OrtGenAI },
        { "yarn:4", OnnxGraphForm.OrtGenAI },
    };

    [Theory]
    [MemberData(nameof(Scalings))]
    public void Logits_at_positions_4k_to_8k_equal_the_reference_forward(string spec, OnnxGraphForm form)
    {
        string folder = TestModels.SyntheticWithRopeScaling(LongContext, Seed, form, spec);
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "genai_config.json"))))
        {
            Assert.Equal(8192, config.RootElement.GetProperty("model").GetProperty("context_length").GetInt32());
        }

        var reference = ScaledReference(spec, 8192);
        int vocab = LongContext.VocabSize;
        var random = new Random(Seed);
        int[] tokens = [.. Enumerable.Range(0, 8192).Select(_ => random.Next(3, vocab))];

        // Chunks of 1,024 keep ONNX Runtime's attention scores small ([heads, 1024, <= 8192] floats).
        using var decoder = new OrtDecoder(folder);
        var cache = KvCache.Empty(decoder.Layers, 1);
        const int chunk = 1024;
        int compared = 0;
        for (int start = 0; start < tokens.Length; start += chunk)
        {
            long[] ids = [.. tokens.Skip(start).Take(chunk).Select(t => (long)t)];
            long[] positions = [.. Enumerable.Range(start, ids.Length).Select(p => (long)p)];
            long[] mask = [.. Enumerable.Repeat(1L, start + ids.Length)];
            (float[] logits, cache) = decoder.Run(1, ids, mask, positions, cache);
            for (int i = 0; i < ids.Length; i++)
            {
                int pos = start + i;
                float[] expected = reference.Forward(tokens[pos], pos);
                if (pos < 4096)
                {
                    continue;
                }

                float diff = Numerics.MaxAbsDiff(logits.AsSpan(i * vocab, vocab), expected);
                Assert.True(diff <= Tolerance, $"{spec} ({form}), position {pos}: max |diff| {diff}");
                compared++;
            }
        }

        Assert.Equal(4096, compared);
    }

    [Fact]
    public void Without_the_scaling_the_reference_disagrees_past_the_training_length()
    {
        // Guards the test above: scaled and unscaled RoPE must differ far more than its tolerance where it compares.
        var scaled = ScaledReference("linear:4", 4200);
        var plain = new LlamaReference(TestModels.Checkpoint(TestModels.SyntheticCheckpoint(LongContext, Seed).Checkpoint).Weights, maxPositions: 4200);
        var random = new Random(Seed);
        float largest = 0;
        for (int pos = 0; pos < 4200; pos++)
        {
            int token = random.Next(3, LongContext.VocabSize);
            float[] a = scaled.Forward(token, pos), b = plain.Forward(token, pos);
            if (pos >= 4096)
            {
                largest = Math.Max(largest, Numerics.MaxAbsDiff(a, b));
            }
        }

        Assert.True(largest > 100 * Tolerance, $"scaled vs unscaled max |diff| {largest}");
    }

    [Fact]
    public void Longrope_uses_its_long_factors_and_attention_factor_in_the_caches_and_the_reference()
    {
        // A Phi-3-style config: trained at 256, served at 1,024; per-pair factors for head size 16.
        var config = LongContext with { SeqLen = 256 };
        string json = """{"type": "longrope", "short_factor": [1, 1, 1.1, 1.2, 1.3, 1.5, 1.8, 2.0], "long_factor": [1, 1.2, 1.5, 2, 3, 4, 5, 6]}""";
        var scaling = RopeScaling.FromHuggingFace(JsonDocument.Parse(json).RootElement, 1024, 256)!;
        var (checkpoint, tokenizer) = TestModels.SyntheticCheckpoint(config, Seed);
        using var temp = new TempFolder();
        Llama2cConverter.Convert(new Llama2cConversionRequest(checkpoint, tokenizer, temp.File("model")) { RopeScaling = scaling });

        var weights = TestModels.Checkpoint(checkpoint).Weights;
        var reference = new LlamaReference(weights.WithConfig(weights.Config with { RopeScaling = scaling }), maxPositions: 1024);
        var frequencies = reference.Config.RopeFrequenciesFor(1024);
        Assert.Equal((float)Math.Sqrt(1 + (Math.Log(4) / Math.Log(256))), frequencies.AttentionFactor);

        var random = new Random(Seed);
        int[] tokens = [.. Enumerable.Range(0, 1024).Select(_ => random.Next(3, config.VocabSize))];
        using var decoder = new OrtDecoder(temp.File("model"));
        var (logits, _) = decoder.Prefill(tokens);
        for (int pos = 0; pos < tokens.Length; pos++)
        {
            float[] expected = reference.Forward(tokens[pos], pos);
            float diff = Numerics.MaxAbsDiff(logits.AsSpan(pos * config.VocabSize, config.VocabSize), expected);
            Assert.True(diff <= Tolerance, $"longrope, position {pos}: max |diff| {diff}");
        }
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("linear:0.5")]
    [InlineData("cubic:2")]
    [InlineData("longrope:2")]
    public void Bad_command_line_specs_are_refused(string spec) =>
        Assert.Throws<FormatException>(() => RopeScaling.Parse(spec));

    [Fact]
    public void Llama3_keeps_high_frequencies_and_divides_low_ones_by_the_factor()
    {
        var scaling = new RopeScaling(RopeScalingType.Llama3, 8) { OriginalMaxPositionEmbeddings = 8192, LowFreqFactor = 1, HighFreqFactor = 4 };
        float[] plain = RopeScaling.Unscaled(128, 500000f);
        float[] scaled = scaling.Frequencies(128, 500000f, 8192).Inverse;
        for (int i = 0; i < plain.Length; i++)
        {
            double wavelength = 2 * Math.PI / plain[i];
            if (wavelength < 8192 / 4.0)
            {
                Assert.Equal(plain[i], scaled[i]);
            }
            else if (wavelength > 8192 / 1.0)
            {
                Assert.Equal(plain[i] / 8f, scaled[i]);
            }
            else
            {
                Assert.InRange(scaled[i], plain[i] / 8f, plain[i]);
            }
        }
    }

    [Fact]
    public void Hugging_face_configs_parse_with_their_defaults_and_quirks()
    {
        var llama31 = Parse("""{"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"}""", 131072)!;
        Assert.Equal(RopeScalingType.Llama3, llama31.Type);
        Assert.Equal(8192, llama31.OriginalMaxPositionEmbeddings);
        Assert.Equal(65536, llama31.ScaledLength);

        // transformers: yarn with a nested original length takes max / original as its factor.
        var yarn = Parse("""{"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}""", 131072)!;
        Assert.Equal(4.0, yarn.Factor);
        Assert.Equal(32, yarn.BetaFast);
        Assert.Equal(1, yarn.BetaSlow);

        // Phi-3: "su" is longrope; the factor is max / the top-level original length.
        double[] factors = [.. Enumerable.Range(0, 48).Select(i => 1.0 + i)];
        string list = string.Join(",", factors);
        var phi3 = RopeScaling.FromHuggingFace(JsonDocument.Parse($$"""{"type": "su", "short_factor": [{{list}}], "long_factor": [{{list}}]}""").RootElement, 131072, 4096)!;
        Assert.Equal(RopeScalingType.LongRope, phi3.Type);
        Assert.Equal(32.0, phi3.Factor);
        Assert.Equal(4096, phi3.OriginalMaxPositionEmbeddings);

        Assert.Null(Parse("""{"rope_type": "default"}""", 2048));
        Assert.Null(RopeScaling.FromHuggingFace(JsonDocument.Parse("null").RootElement, 2048));
        var missing = Assert.Throws<InvalidDataException>(() => Parse("""{"rope_type": "llama3", "factor": 8.0}""", 2048));
        Assert.Contains("original_max_position_embeddings", missing.Message);
        Assert.Throws<InvalidDataException>(() => Parse("""{"rope_type": "linear", "factor": "four"}""", 2048));
    }

    [Fact]
    public void Frequencies_match_the_independent_python_implementation()
    {
        // TestData/rope/expected.json: written by TestData/rope/make_expected.py (plain Python floats, the formulas of
        // transformers' modeling_rope_utils); see the README there. float32 vs float64: relative error <= 1e-6.
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "rope", "expected.json")));
        int cases = 0;
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            int headSize = item.GetProperty("head_size").GetInt32();
            float theta = item.GetProperty("theta").GetSingle();
            int maxPositions = item.GetProperty("max_position_embeddings").GetInt32();
            var scaling = RopeScaling.FromHuggingFace(item.GetProperty("rope_scaling"), maxPositions, item.TryGetProperty("original_max_position_embeddings", out var o) ? o.GetInt32() : null)!;
            var actual = scaling.Frequencies(headSize, theta, item.GetProperty("sequence_length").GetInt32());
            double[] expected = [.. item.GetProperty("inv_freq").EnumerateArray().Select(e => e.GetDouble())];
            Assert.Equal(expected.Length, actual.Inverse.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(actual.Inverse[i] - expected[i]) <= 1e-6 * expected[i], $"{item.GetProperty("name").GetString()}: inv_freq[{i}] {actual.Inverse[i]} vs {expected[i]}");
            }

            double attention = item.GetProperty("attention_factor").GetDouble();
            Assert.True(Math.Abs(actual.AttentionFactor - attention) <= 1e-6 * attention, $"{item.GetProperty("name").GetString()}: attention factor {actual.AttentionFactor} vs {attention}");
            cases++;
        }

        Assert.True(cases >= 6, $"only {cases} cases in expected.json");
    }

    internal static LlamaReference ScaledReference(string spec, int maxPositions)
    {
        var weights = TestModels.Checkpoint(TestModels.SyntheticCheckpoint(LongContext, Seed).Checkpoint).Weights;
        var scaling = RopeScaling.Parse(spec) with { OriginalMaxPositionEmbeddings = LongContext.SeqLen };
        return new LlamaReference(weights.WithConfig(weights.Config with { RopeScaling = scaling }), maxPositions);
    }

    private static RopeScaling? Parse(string json, int maxPositions) =>
        RopeScaling.FromHuggingFace(JsonDocument.Parse(json).RootElement, maxPositions);
}

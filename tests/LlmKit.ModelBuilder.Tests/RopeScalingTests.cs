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

    // A Phi-3-style longrope: trained at 256, served at 1,024; per-pair factors for head size 16.
    private const string LongropeJson = """{"type": "longrope", "short_factor": [1, 1, 1.1, 1.2, 1.3, 1.5, 1.8, 2.0], "long_factor": [1, 1.2, 1.5, 2, 3, 4, 5, 6]}""";
    private static readonly LlamaConfig LongropeConfig = LongContext with { SeqLen = 256 };
    private static readonly Lazy<string> LongropeFolder = new(() =>
    {
        var (checkpoint, tokenizer) = TestModels.SyntheticCheckpoint(LongropeConfig, Seed);
        string folder = Path.Combine(Path.GetTempPath(), "llmkit-tests", "scratch", $"longrope-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Llama2cConverter.Convert(new Llama2cConversionRequest(checkpoint, tokenizer, folder) { RopeScaling = LongropeScaling() });
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(folder, recursive: true); // this process's own folder
        return folder;
    });

    private static RopeScaling LongropeScaling() => RopeScaling.FromHuggingFace(JsonDocument.Parse(LongropeJson).RootElement, 1024, 256)!;

    private static LlamaReference LongropeReference()
    {
        var weights = TestModels.Checkpoint(TestModels.SyntheticCheckpoint(LongropeConfig, Seed).Checkpoint).Weights;
        return new LlamaReference(weights.WithConfig(weights.Config with { RopeScaling = LongropeScaling() }), maxPositions: 1024);
    }

    private static int[] LongropeTokens(int count)
    {
        var random = new Random(Seed);
        return [.. Enumerable.Range(0, count).Select(_ => random.Next(3, LongropeConfig.VocabSize))];
    }

    [Fact]
    public void Longrope_graph_switches_between_short_and_long_tables_at_the_original_length()
    {
        var model = Onnx.Protos.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(LongropeFolder.Value, "model.onnx")));
        var tables = model.Graph.Initializer.ToDictionary(t => t.Name, t => t.Dims.ToArray());
        Assert.Equal([256L, 8L], tables["cos_cache_small"]);
        Assert.Equal([1024L, 8L], tables["cos_cache_large"]);
        Assert.False(tables.ContainsKey("cos_cache"));
        var greater = model.Graph.Node.Single(n => n.OpType == "Greater");
        Assert.Equal("/model/attn_mask_reformat/attn_mask_subgraph/Gather/output_0", greater.Input[0]);
        var threshold = model.Graph.Initializer.Single(t => t.Name == greater.Input[1]);
        Assert.Equal(256L, threshold.Int64Data.Single());
        var ifNode = model.Graph.Node.Single(n => n.OpType == "If");
        Assert.Equal(["cos_cache", "sin_cache"], ifNode.Output);
        Assert.Equal("256", model.MetadataProps.Single(p => p.Key == "llmkit.rope_cache_switch_length").Value);

        // The attention factor sqrt(1 + ln(s) / ln(original)) with s = 1024 / 256.
        Assert.Equal((float)Math.Sqrt(1 + (Math.Log(4) / Math.Log(256))), LongropeReference().Config.RopeFrequenciesFor(1024).AttentionFactor);
    }

    [Theory]
    [InlineData(200)] // within the original length: short factors at every position
    [InlineData(1024)] // past it: long factors at every position, the first 256 included
    public void Longrope_prompt_logits_equal_the_reference_with_the_factor_set_of_the_prompt_length(int length)
    {
        int[] tokens = LongropeTokens(length);
        var reference = LongropeReference();
        using var decoder = new OrtDecoder(LongropeFolder.Value);
        var (logits, _) = decoder.Prefill(tokens);
        int vocab = LongropeConfig.VocabSize;
        for (int pos = 0; pos < tokens.Length; pos++)
        {
            float[] expected = reference.Forward(tokens[pos], pos, sequenceLength: length);
            float diff = Numerics.MaxAbsDiff(logits.AsSpan(pos * vocab, vocab), expected);
            Assert.True(diff <= Tolerance, $"longrope prompt of {length}, position {pos}: max |diff| {diff}");
        }
    }

    [Fact]
    public void Longrope_generation_crossing_the_original_length_keeps_earlier_keys_and_matches_the_reference()
    {
        // A 200-token prompt (short tables), then one token per run up to 320: runs 201..256 still use the short tables,
        // runs 257.. the long ones, while the keys cached before keep their short-factor rotation.
        int[] tokens = LongropeTokens(320);
        const int prompt = 200;
        var reference = LongropeReference();
        var staticLong = LongropeReference(); // control: every position with the long factors, as a single static cache would
        using var decoder = new OrtDecoder(LongropeFolder.Value);
        var (_, cache) = decoder.Prefill(tokens[..prompt]);
        for (int pos = 0; pos < prompt; pos++)
        {
            reference.Forward(tokens[pos], pos, sequenceLength: prompt);
            staticLong.Forward(tokens[pos], pos, sequenceLength: 1024);
        }

        float controlLargest = 0;
        for (int pos = prompt; pos < tokens.Length; pos++)
        {
            (float[] step, cache) = decoder.Decode(tokens[pos], cache);
            float[] expected = reference.Forward(tokens[pos], pos); // run length pos + 1
            float diff = Numerics.MaxAbsDiff(step, expected);
            Assert.True(diff <= Tolerance, $"longrope decode, position {pos}: max |diff| {diff}");
            controlLargest = Math.Max(controlLargest, Numerics.MaxAbsDiff(step, staticLong.Forward(tokens[pos], pos, sequenceLength: 1024)));
        }

        // Guards the comparison: the factor sets differ far more than the tolerance on these positions.
        Assert.True(controlLargest > 100 * Tolerance, $"switching vs static long tables max |diff| {controlLargest}");
    }

    [Fact]
    public void Longrope_folders_neither_batch_nor_reuse_a_prefix_cached_with_the_short_tables()
    {
        // Default options (prefix reuse requested). A first request generates across 256, so its cached keys below 256
        // carry the short-factor rotation; a second request whose prompt extends that sequence past 256 must be
        // computed as its own prefill (long factors everywhere), as onnxruntime-genai and Hugging Face compute it.
        using var model = LlmKit.Models.OnnxGenAIModel.Load(LongropeFolder.Value, new LlmKit.Models.OnnxGenAIModelOptions { IntraOpThreads = 1 });
        Assert.Equal(256, model.RopeCacheSwitchLength);
        Assert.False(model.ReusesPromptPrefixes);
        Assert.Equal(1, model.MaxBatchSize); // a batch run's mask width is its longest row's: it would switch the others too

        int[] first = LongropeTokens(200);
        int[] sequence;
        using (var generator = model.CreateGenerator(first, new LlmKit.Generation.GenerationOptions { Temperature = 0, MaxNewTokens = 80 }))
        {
            while (!generator.IsDone)
            {
                generator.GenerateNextToken();
            }

            sequence = generator.Tokens.ToArray();
        }

        Assert.True(sequence.Length > 256, $"the first request ended at {sequence.Length} tokens, before the switch");
        int[] second = [.. sequence, .. LongropeTokens(5)];
        var state = model.RentState(second);
        float[] logits;
        try
        {
            logits = state.Append(second.AsSpan(state.Length), CancellationToken.None)[^LongropeConfig.VocabSize..].ToArray();
        }
        finally
        {
            state.Truncate(0);
            model.ReturnState(state);
        }

        var reference = LongropeReference();
        float[] expected = [];
        for (int pos = 0; pos < second.Length; pos++)
        {
            expected = reference.Forward(second[pos], pos, sequenceLength: second.Length);
        }

        float diff = Numerics.MaxAbsDiff(logits, expected);
        Assert.True(diff <= Tolerance, $"second request's first-step logits vs its own prefill: max |diff| {diff}");

        // Control: what a reused prefix would give (the first request's rotations, then the 5 new tokens in one run).
        var reused = LongropeReference();
        float[] stale = [];
        for (int pos = 0; pos < second.Length; pos++)
        {
            int? run = pos < first.Length ? first.Length : pos < sequence.Length ? null : second.Length;
            stale = reused.Forward(second[pos], pos, run);
        }

        float staleDiff = Numerics.MaxAbsDiff(stale, expected);
        Assert.True(staleDiff > 100 * Tolerance, $"a reused prefix would differ by only {staleDiff}");
    }

    [Fact]
    public void Longrope_folders_do_not_speculate_across_the_switch()
    {
        // A verification run of several drafted tokens has another total length than one-by-one decoding, so near the
        // switch it would pick the other table pair: prompt lookup is ignored and the output is plain decoding's.
        using var model = LlmKit.Models.OnnxGenAIModel.Load(LongropeFolder.Value, new LlmKit.Models.OnnxGenAIModelOptions { IntraOpThreads = 1 });
        int[] prompt = [.. LongropeTokens(120), .. LongropeTokens(120)]; // repeated text: prompt lookup would draft here
        using var generator = model.CreateGenerator(prompt, new LlmKit.Generation.GenerationOptions
        {
            Temperature = 0, MaxNewTokens = 40, PromptLookup = new LlmKit.Generation.PromptLookupOptions { DraftTokens = 4 },
        });
        while (!generator.IsDone)
        {
            generator.GenerateNextToken();
        }

        Assert.True(generator.Tokens.Length > 256, "the generation did not cross the switch");
        Assert.Equal(0, generator.DraftedTokens);
    }

    [Fact]
    public void Longrope_with_two_factor_sets_is_refused_in_the_standard_form()
    {
        var (checkpoint, tokenizer) = TestModels.SyntheticCheckpoint(LongropeConfig, Seed);
        using var temp = new TempFolder();
        var e = Assert.Throws<NotSupportedException>(() => Llama2cConverter.Convert(
            new Llama2cConversionRequest(checkpoint, tokenizer, temp.File("out")) { RopeScaling = LongropeScaling(), GraphForm = OnnxGraphForm.Standard }));
        Assert.Contains("longrope", e.Message);
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

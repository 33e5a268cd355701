using System.Collections.Concurrent;
using LlmKit.ModelBuilder.HuggingFace;
using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests.HuggingFace;

/// <summary>
/// The synthetic Hugging Face checkpoints of the tests, one per architecture (plus dtype and sharding variants),
/// written at test time into a scratch folder of this process with the stories260K tokenizer (vocab 512), and
/// their conversions. Thread-safe; each checkpoint and folder is made once per process.
/// </summary>
internal static class HfCases
{
    public const int Seed = 18;
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "llmkit-tests", "scratch", $"hf-{Environment.ProcessId}-{Guid.NewGuid():N}");
    private static readonly ConcurrentDictionary<string, Lazy<string>> Checkpoints = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, Lazy<string>> Folders = new(StringComparer.Ordinal);

    static HfCases()
    {
        // The scratch folder is this process's own (its name carries the pid and a fresh guid).
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
        };
    }

    /// <summary>Case name -> (shape, dtype, sharded).</summary>
    public static readonly IReadOnlyDictionary<string, (HfSyntheticShape Shape, string DType, bool Sharded)> All = new Dictionary<string, (HfSyntheticShape, string, bool)>
    {
        // Llama 2 shape: GQA, untied head, f32.
        ["llama"] = (new("LlamaForCausalLM", 64, 128, 2, 4, 2, 512, 256), "F32", false),

        // Llama 3 shape: large rope_theta, tied embeddings, bf16, two shards with an index.
        ["llama3-bf16-sharded"] = (new("LlamaForCausalLM", 64, 128, 2, 4, 1, 512, 256) { TieEmbeddings = true, RopeTheta = 500000f }, "BF16", true),

        // Mistral: sliding window 16 on every layer, f16.
        ["mistral"] = (new("MistralForCausalLM", 64, 128, 2, 4, 2, 512, 256) { SlidingWindow = 16 }, "F16", false),

        // Qwen2 (small ones tie the head): q/k/v biases.
        ["qwen2"] = (new("Qwen2ForCausalLM", 64, 128, 2, 4, 2, 512, 256) { TieEmbeddings = true, RopeTheta = 1000000f }, "F32", false),

        // Qwen2 with head_dim 8: GroupQueryAttention cannot fuse rotary (needs % 16), so separate RotaryEmbedding
        // nodes with position_ids, and the biases on three separate projections.
        ["qwen2-head8"] = (new("Qwen2ForCausalLM", 64, 128, 2, 8, 4, 512, 256), "F32", false),

        // Phi3: fused qkv_proj and gate_up_proj.
        ["phi3"] = (new("Phi3ForCausalLM", 64, 128, 2, 4, 4, 512, 256), "F32", false),

        // Phi3 with a window on every layer (as phi-3-mini-4k's sliding_window 2047): the fused tensors sliced for
        // the position_ids graph.
        ["phi3-window"] = (new("Phi3ForCausalLM", 64, 128, 2, 4, 2, 512, 256) { SlidingWindow = 12 }, "BF16", false),

        // Gemma: head_dim 32 with hidden 64 and 4 heads (so head_dim != hidden / heads), one KV head, tied, GeGLU, (1 + w) norms.
        ["gemma"] = (new("GemmaForCausalLM", 64, 128, 2, 4, 1, 512, 256) { HeadDim = 32, TieEmbeddings = true }, "F32", false),

        // RoPE scaling as config.json carries it, with the original length (32) below the 48-100 positions the tests
        // run, so positions past the training length are covered: linear (position interpolation), Llama 3.1's llama3
        // and Qwen2.5's yarn.
        ["llama-rope-linear"] = (new("LlamaForCausalLM", 64, 128, 2, 4, 2, 512, 256) { RopeScalingJson = """{"rope_type": "linear", "factor": 4.0}""" }, "F32", false),
        ["llama3-rope-llama3"] = (new("LlamaForCausalLM", 64, 128, 2, 4, 1, 512, 256)
        {
            RopeTheta = 500000f,
            RopeScalingJson = """{"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 32, "rope_type": "llama3"}""",
        }, "F32", false),
        ["qwen2-rope-yarn"] = (new("Qwen2ForCausalLM", 64, 128, 2, 4, 2, 512, 256)
        {
            TieEmbeddings = true,
            RopeScalingJson = """{"factor": 4.0, "original_max_position_embeddings": 32, "type": "yarn"}""",
        }, "F32", false),

        // Phi-3's longrope (written as "su", like Phi-3-mini-128k): trained at 32, served at 256, so the graph switches from
        // the short-factor tables to the long-factor ones once the sequence passes 32 (head_dim 16: 8 factors each).
        ["phi3-rope-longrope"] = (new("Phi3ForCausalLM", 64, 128, 2, 4, 2, 512, 256)
        {
            OriginalMaxPositions = 32,
            RopeScalingJson = """{"type": "su", "short_factor": [1.0, 1.05, 1.1, 1.2, 1.4, 1.7, 2.0, 2.5], "long_factor": [1.0, 1.3, 1.8, 2.6, 3.5, 4.5, 6.0, 8.0]}""",
        }, "F32", false),

        // Gemma2: 4 layers (even ones sliding, window 8), softcaps small enough to bite, query_pre_attn_scalar != head_dim.
        ["gemma2"] = (new("Gemma2ForCausalLM", 48, 96, 4, 4, 2, 512, 256)
        {
            HeadDim = 16, TieEmbeddings = true, SlidingWindow = 8, QueryPreAttnScalar = 24f, AttnLogitSoftcapping = 2f, FinalLogitSoftcapping = 5f,
        }, "F32", false),
    };

    public static TheoryData<string> Names => new(All.Keys);

    /// <summary>The checkpoint folder of <paramref name="name"/>; "-int4exact" appended snaps projections to the int4 grid.</summary>
    public static string Checkpoint(string name) => Checkpoints.GetOrAdd(name, key => new Lazy<string>(() =>
    {
        bool int4Exact = key.EndsWith("-int4exact", StringComparison.Ordinal);
        var (shape, dtype, sharded) = All[int4Exact ? key[..^"-int4exact".Length] : key];
        string folder = Path.Combine(Root, "checkpoints", key);
        HfCheckpointSynthesizer.Write(folder, shape, Seed, dtype, sharded, int4Exact);
        var tokenizer = Llama2cTokenizerFile.Load(SharedFixtures.Stories260KTokenizer, shape.VocabSize);
        HfCheckpointSynthesizer.WriteTokenizer(folder, tokenizer, shape.MaxPositions);
        return folder;
    })).Value;

    /// <summary>The converted folder of a checkpoint case at a precision.</summary>
    public static string Converted(string name, WeightPrecision precision = WeightPrecision.Fp32, int int4AccuracyLevel = 0) =>
        Folders.GetOrAdd($"{name}|{precision}|{int4AccuracyLevel}", key => new Lazy<string>(() =>
        {
            string output = Path.Combine(Root, "models", key.Replace('|', '-'));
            HfConverter.Convert(new HfConversionRequest(Checkpoint(name), output) { Precision = precision, Int4AccuracyLevel = int4AccuracyLevel });
            return output;
        })).Value;

    /// <summary>The converted folder of a checkpoint case with LoRA inputs (<see cref="HfConversionRequest.LoraInputs"/>).</summary>
    public static string ConvertedWithLora(string name, WeightPrecision precision = WeightPrecision.Fp32) =>
        Folders.GetOrAdd($"{name}|{precision}|lora", key => new Lazy<string>(() =>
        {
            string output = Path.Combine(Root, "models", key.Replace('|', '-'));
            HfConverter.Convert(new HfConversionRequest(Checkpoint(name), output) { Precision = precision, LoraInputs = true });
            return output;
        })).Value;

    /// <summary>The reference forward over a checkpoint case, with <paramref name="adjustProjection"/> applied to each projection weight.</summary>
    public static HfReference Reference(string name, int maxPositions, Action<int, string, float[]>? adjustProjection = null)
    {
        string folder = Checkpoint(name);
        var spec = HfConfigReader.Read(folder);
        return new HfReference(new HfWeights(SafetensorsCheckpoint.Open(folder), spec), maxPositions, adjustProjection: adjustProjection);
    }

    /// <summary>Seeded token ids in [3, vocab) (no special tokens).</summary>
    public static int[] Tokens(int count, int seed, int vocab = 512)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => random.Next(3, vocab))];
    }
}

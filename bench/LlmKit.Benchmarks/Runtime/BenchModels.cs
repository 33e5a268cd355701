using System.Security.Cryptography;
using System.Text;
using LlmKit.Benchmarks.Peers;
using LlmKit.ModelBuilder;

namespace LlmKit.Benchmarks.Runtime;

/// <summary>Model folders for benchmarks, converted once into a cache folder (never committed).</summary>
internal static class BenchModels
{
    /// <summary>The synthetic ~110M Llama of the issue: dim 768, hidden 2048, 12 layers, 12 heads, vocab 32000.</summary>
    public static readonly LlamaConfig Synthetic110M = new(Dim: 768, HiddenDim: 2048, Layers: 12, Heads: 12, KvHeads: 12, VocabSize: 32000, SeqLen: 1024);

    public static string CacheRoot { get; } = Path.Combine(
        Environment.GetEnvironmentVariable("LLMKIT_BENCH_CACHE") ?? Path.Combine(Path.GetTempPath(), "llmkit-bench"));

    private static readonly ConvertedModelCache ModelCache = new(Path.Combine(CacheRoot, "models"));
    private static readonly ConvertedModelCache CheckpointCache = new(Path.Combine(CacheRoot, "checkpoints"));
    private static readonly Lazy<string> BuilderHash = new(() =>
        Convert16(SHA256.HashData(File.ReadAllBytes(typeof(Llama2cConverter).Assembly.Location))));

    public static string SharedRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmKit.sln")))
            {
                string shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
                return Directory.Exists(shared) ? shared : throw new DirectoryNotFoundException($"The shared fixtures folder '{shared}' is missing.");
            }
        }

        throw new InvalidOperationException("Could not find LlmKit.sln above the benchmark's folder.");
    }

    public static string Stories260K(OnnxGraphForm form)
    {
        string shared = SharedRoot();
        string checkpoint = Path.Combine(shared, "models", "stories260K", "stories260K.bin");
        string tokenizer = Path.Combine(shared, "models", "stories260K", "tok512.bin");
        return Convert($"stories260K-{form}", checkpoint, tokenizer, form);
    }

    public static string Synthetic(LlamaConfig config, int seed, OnnxGraphForm form, WeightPrecision precision = WeightPrecision.Fp32, bool loraInputs = false)
    {
        string folder = SyntheticCheckpoint(config, seed);
        string checkpoint = Path.Combine(folder, "model.bin");
        string tokenizer = Path.Combine(folder, "tokenizer.bin");
        return Convert($"synthetic-{config.Dim}x{config.Layers}-{seed}-{form}", checkpoint, tokenizer, form, precision, loraInputs);
    }

    /// <summary>
    /// A seeded random checkpoint of <paramref name="config"/> (VocabSize 512) converted with stories260K's tokenizer: a
    /// draft model sharing stories260K's vocabulary that seldom agrees with it.
    /// </summary>
    public static string SyntheticWithStoriesTokenizer(LlamaConfig config, int seed, OnnxGraphForm form)
    {
        string checkpoint = Path.Combine(SyntheticCheckpoint(config, seed), "model.bin");
        string tokenizer = Path.Combine(SharedRoot(), "models", "stories260K", "tok512.bin");
        return Convert($"synthetic-{config.Dim}x{config.Layers}-{seed}-tok512-{form}", checkpoint, tokenizer, form);
    }

    /// <summary>stories260K in the OrtGenAI form, with or without LoRA inputs.</summary>
    public static string Stories260K(bool loraInputs)
    {
        string shared = SharedRoot();
        string checkpoint = Path.Combine(shared, "models", "stories260K", "stories260K.bin");
        string tokenizer = Path.Combine(shared, "models", "stories260K", "tok512.bin");
        return Convert($"stories260K-{OnnxGraphForm.OrtGenAI}", checkpoint, tokenizer, OnnxGraphForm.OrtGenAI, WeightPrecision.Fp32, loraInputs);
    }

    /// <summary>stories260K as a GGUF file for llama.cpp (F32 only: its 172-wide feed-forward cannot be block-quantised).</summary>
    public static string Stories260KGguf(GgufWeights weights)
    {
        string shared = SharedRoot();
        string checkpoint = Path.Combine(shared, "models", "stories260K", "stories260K.bin");
        string tokenizer = Path.Combine(shared, "models", "stories260K", "tok512.bin");
        return Gguf("stories260K", checkpoint, tokenizer, weights);
    }

    /// <summary>The synthetic checkpoint <see cref="Synthetic"/> converts, as a GGUF file for llama.cpp.</summary>
    public static string SyntheticGguf(LlamaConfig config, int seed, GgufWeights weights)
    {
        string folder = SyntheticCheckpoint(config, seed);
        return Gguf($"synthetic-{config.Dim}x{config.Layers}-{seed}", Path.Combine(folder, "model.bin"), Path.Combine(folder, "tokenizer.bin"), weights);
    }

    private static string SyntheticCheckpoint(LlamaConfig config, int seed) =>
        CheckpointCache.GetOrCreate(Key($"{BuilderHash.Value}|{config}|{seed}"), staging =>
        {
            Directory.CreateDirectory(staging);
            CheckpointSynthesizer.Write(Path.Combine(staging, "model.bin"), config, seed);
            CheckpointSynthesizer.WriteTokenizer(Path.Combine(staging, "tokenizer.bin"), config.VocabSize);
        });

    private static string Gguf(string name, string checkpoint, string tokenizer, GgufWeights weights)
    {
        // Next to the converted folders; keyed by the writer's version and the checkpoint (whose path carries the builder key).
        string key = Key($"gguf-v{GgufLlama2c.WriterVersion}|{checkpoint}|{tokenizer}");
        string f32 = ModelCache.GetOrCreate($"{name}-gguf-F32-{key}", staging =>
        {
            Console.Error.WriteLine($"writing {name} F32 GGUF ...");
            Directory.CreateDirectory(staging);
            GgufLlama2c.WriteF32(checkpoint, tokenizer, Path.Combine(staging, "model.gguf"), name);
        });
        if (weights == GgufWeights.F32)
        {
            return Path.Combine(f32, "model.gguf");
        }

        string quantized = ModelCache.GetOrCreate($"{name}-gguf-{weights}-{key}", staging =>
        {
            Console.Error.WriteLine($"quantising {name} to {weights} ...");
            Directory.CreateDirectory(staging);
            GgufLlama2c.Quantize(Path.Combine(f32, "model.gguf"), Path.Combine(staging, "model.gguf"), weights);
        });
        return Path.Combine(quantized, "model.gguf");
    }

    private static string Convert(string name, string checkpoint, string tokenizer, OnnxGraphForm form, WeightPrecision precision = WeightPrecision.Fp32, bool loraInputs = false)
    {
        // Keyed by the builder's content (deterministic builds: a rebuild without changes keeps the key), not its file time.
        string label = (precision == WeightPrecision.Fp32 ? name : $"{name}-{precision}") + (loraInputs ? "-lora" : "");
        return ModelCache.GetOrCreate($"{label}-{Key(BuilderHash.Value + checkpoint)}", staging =>
        {
            Console.Error.WriteLine($"converting {label} ...");
            Llama2cConverter.Convert(new Llama2cConversionRequest(checkpoint, tokenizer, staging, GraphForm: form) { Precision = precision, LoraInputs = loraInputs });
        });
    }

    private static string Key(string text) => Convert16(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static string Convert16(byte[] hash) => System.Convert.ToHexString(hash, 0, 8).ToLowerInvariant();
}

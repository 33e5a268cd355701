using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using LlmKit.ModelBuilder;

namespace LlmKit.Testing;

/// <summary>
/// Model folders for tests, converted by the model builder on first use and cached under
/// <c>{temp}/llmkit-tests/{hash}/</c>, where the hash covers the builder assembly and the inputs, so a rebuilt
/// builder never reuses a stale conversion. Thread-safe, and safe when several test processes start at once:
/// each conversion is written to a unique folder and renamed into place; whoever loses the race reuses the
/// winner's folder.
/// </summary>
public static class TestModels
{
    private static readonly Lazy<string> BuilderHash = new(() => HashFiles(typeof(Llama2cConverter).Assembly.Location));
    private static readonly Lazy<string> Stories260K = new(() => ConvertCached(
        "stories260K", SharedFixtures.Stories260KCheckpoint, SharedFixtures.Stories260KTokenizer, OnnxGraphForm.Standard, WeightPrecision.Fp32, false, 0));

    private static readonly ConcurrentDictionary<string, Lazy<string>> Folders = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, Lazy<Llama2cCheckpoint>> Checkpoints = new(StringComparer.Ordinal);

    /// <summary>The cache root: <c>{temp}/llmkit-tests</c> (converted models in <c>models</c>, synthetic checkpoints in <c>checkpoints</c>).</summary>
    public static string CacheRoot { get; } = Path.Combine(Path.GetTempPath(), "llmkit-tests");

    // Keyed by the builder's hash, so every builder change adds entries; the caches delete the ones unused for 14 days.
    private static readonly ConvertedModelCache ModelCache = new(Path.Combine(CacheRoot, "models"));
    private static readonly ConvertedModelCache CheckpointCache = new(Path.Combine(CacheRoot, "checkpoints"));

    /// <summary>stories260K converted into the Standard graph form (an ONNX GenAI folder).</summary>
    public static string Stories260KFolder => Stories260K.Value;

    /// <summary>stories260K converted into the given graph form and weight precision (int4 needs OrtGenAI).</summary>
    /// <param name="form">The decoder graph form.</param>
    /// <param name="precision">How projection weights are stored.</param>
    /// <param name="int4ZeroPoints">With int4: asymmetric blocks with zero points.</param>
    /// <param name="int4AccuracyLevel">With int4: MatMulNBits accuracy_level (4, the builder's default: int8 activations; 0: exact).</param>
    public static string Stories260KFolderFor(OnnxGraphForm form, WeightPrecision precision = WeightPrecision.Fp32, bool int4ZeroPoints = false,
        int int4AccuracyLevel = Llama2cConversionRequest.DefaultInt4AccuracyLevel) =>
        form == OnnxGraphForm.Standard && precision == WeightPrecision.Fp32
            ? Stories260KFolder
            : Folder(SharedFixtures.Stories260KCheckpoint, SharedFixtures.Stories260KTokenizer, form, precision, int4ZeroPoints, int4AccuracyLevel);

    /// <summary>Any checkpoint converted with the given options, cached like <see cref="Stories260KFolder"/>.</summary>
    /// <param name="checkpoint">A llama2.c checkpoint.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="form">The decoder graph form.</param>
    /// <param name="precision">How projection weights are stored (int4 needs OrtGenAI).</param>
    /// <param name="int4ZeroPoints">With int4: asymmetric blocks with zero points.</param>
    /// <param name="int4AccuracyLevel">With int4: MatMulNBits accuracy_level (4, the builder's default: int8 activations; 0: exact).</param>
    public static string Folder(string checkpoint, string tokenizer, OnnxGraphForm form, WeightPrecision precision = WeightPrecision.Fp32, bool int4ZeroPoints = false,
        int int4AccuracyLevel = Llama2cConversionRequest.DefaultInt4AccuracyLevel)
    {
        int level = precision == WeightPrecision.Int4 ? int4AccuracyLevel : 0; // meaningless for fp32: one folder either way
        string key = $"{Path.GetFullPath(checkpoint)}|{Path.GetFullPath(tokenizer)}|{form}|{precision}|{int4ZeroPoints}|{level}";
        return Folders.GetOrAdd(key, _ => new Lazy<string>(() =>
            ConvertCached(Path.GetFileNameWithoutExtension(checkpoint), checkpoint, tokenizer, form, precision, int4ZeroPoints, level))).Value;
    }

    /// <summary>
    /// A folder converted from a seeded random checkpoint of the given shape (with a synthetic tokenizer, so
    /// <see cref="LlamaConfig.VocabSize"/> must be at least 259). The checkpoint sits beside the folder.
    /// </summary>
    /// <param name="config">The model shape.</param>
    /// <param name="seed">Random seed for the weights.</param>
    /// <param name="form">The decoder graph form.</param>
    public static string Synthetic(LlamaConfig config, int seed, OnnxGraphForm form = OnnxGraphForm.Standard)
    {
        ArgumentNullException.ThrowIfNull(config);
        var (checkpoint, tokenizer) = SyntheticCheckpoint(config, seed);
        return Folder(checkpoint, tokenizer, form);
    }

    /// <summary>
    /// Like <see cref="Synthetic"/>, converted with RoPE scaling (<see cref="RopeScaling.Parse"/>'s TYPE:FACTOR form,
    /// e.g. <c>linear:4</c>): the context becomes seq_len x FACTOR, the model's training length stays seq_len.
    /// </summary>
    /// <param name="config">The model shape (seq_len = the original training length).</param>
    /// <param name="seed">Random seed for the weights.</param>
    /// <param name="form">The decoder graph form.</param>
    /// <param name="ropeScaling">The scaling, e.g. <c>yarn:4</c>.</param>
    public static string SyntheticWithRopeScaling(LlamaConfig config, int seed, OnnxGraphForm form, string ropeScaling) =>
        SyntheticWith(config, seed, form, ropeScaling, loraInputs: false);

    /// <summary>Like <see cref="Synthetic"/> in the OrtGenAI form with LoRA inputs on every projection (rank 0 until an adapter is active).</summary>
    /// <param name="config">The model shape.</param>
    /// <param name="seed">Random seed for the weights.</param>
    public static string SyntheticWithLoraInputs(LlamaConfig config, int seed) =>
        SyntheticWith(config, seed, OnnxGraphForm.OrtGenAI, ropeScaling: null, loraInputs: true);

    private static string SyntheticWith(LlamaConfig config, int seed, OnnxGraphForm form, string? ropeScaling, bool loraInputs)
    {
        ArgumentNullException.ThrowIfNull(config);
        var scaling = ropeScaling is null ? null : RopeScaling.Parse(ropeScaling);
        var (checkpoint, tokenizer) = SyntheticCheckpoint(config, seed);
        string options = $"{form}|rope={ropeScaling}|lora={loraInputs}";
        string hash = Hash($"{BuilderHash.Value}|{HashFiles(checkpoint, tokenizer)}|{options}");
        string label = $"synthetic-{form}{(ropeScaling is null ? "" : "-rope-" + ropeScaling.Replace(':', '-'))}{(loraInputs ? "-lora" : "")}";
        return Folders.GetOrAdd($"{checkpoint}|{options}", _ => new Lazy<string>(() =>
            ModelCache.GetOrCreate($"{label}-{hash}", staging =>
                Llama2cConverter.Convert(new Llama2cConversionRequest(checkpoint, tokenizer, staging, GraphForm: form) { RopeScaling = scaling, LoraInputs = loraInputs })))).Value;
    }

    /// <summary>The synthetic checkpoint and tokenizer files behind <see cref="Synthetic"/> (created on first use).</summary>
    /// <param name="config">The model shape.</param>
    /// <param name="seed">Random seed for the weights.</param>
    public static (string Checkpoint, string Tokenizer) SyntheticCheckpoint(LlamaConfig config, int seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        string folder = CheckpointCache.GetOrCreate(Hash($"{BuilderHash.Value}|{config}|{seed}"), staging =>
        {
            Directory.CreateDirectory(staging);
            CheckpointSynthesizer.Write(Path.Combine(staging, "model.bin"), config, seed);
            CheckpointSynthesizer.WriteTokenizer(Path.Combine(staging, "tokenizer.bin"), config.VocabSize);
        });
        return (Path.Combine(folder, "model.bin"), Path.Combine(folder, "tokenizer.bin"));
    }

    /// <summary>A loaded checkpoint, cached per path (read-only, safe to share).</summary>
    /// <param name="checkpointPath">A llama2.c checkpoint.</param>
    public static Llama2cCheckpoint Checkpoint(string checkpointPath) =>
        Checkpoints.GetOrAdd(Path.GetFullPath(checkpointPath), p => new Lazy<Llama2cCheckpoint>(() => Llama2cCheckpoint.Load(p))).Value;

    /// <summary>A fresh reference forward pass (it carries a KV cache, so each caller gets its own).</summary>
    /// <param name="checkpointPath">A llama2.c checkpoint.</param>
    public static LlamaReference Reference(string checkpointPath) => new(Checkpoint(checkpointPath).Weights);

    private static string ConvertCached(string label, string checkpoint, string tokenizer, OnnxGraphForm form, WeightPrecision precision, bool int4ZeroPoints, int int4AccuracyLevel)
    {
        string hash = Hash($"{BuilderHash.Value}|{HashFiles(checkpoint, tokenizer)}|{form}|{precision}|{int4ZeroPoints}|{int4AccuracyLevel}");
        string int4 = precision == WeightPrecision.Int4 ? $"{(int4ZeroPoints ? "-zp" : "")}-acc{int4AccuracyLevel}" : "";
        return ModelCache.GetOrCreate($"{label}-{form}-{precision}{int4}-{hash}", staging =>
            Llama2cConverter.Convert(new Llama2cConversionRequest(checkpoint, tokenizer, staging, GraphForm: form)
            {
                Precision = precision,
                Int4ZeroPoints = int4ZeroPoints,
                Int4AccuracyLevel = int4AccuracyLevel,
            }));
    }

    private static string HashFiles(params string[] paths)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string path in paths)
        {
            sha.AppendData(File.ReadAllBytes(path));
        }

        return Convert.ToHexString(sha.GetHashAndReset())[..16].ToLowerInvariant();
    }

    private static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant();
}

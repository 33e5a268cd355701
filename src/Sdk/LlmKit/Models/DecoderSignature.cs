using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using LlmKit.Generation;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace LlmKit.Models;

/// <summary>
/// The decoder graph's inputs and outputs resolved from the configuration and checked against the loaded graph
/// before the first run, so a mismatch is reported by name instead of as an ONNX Runtime error code. Element
/// types (int32 or int64 ids, fp32 or fp16 KV and logits) and the KV layout are read from the graph, as the
/// official runtime does.
/// </summary>
internal sealed class DecoderSignature
{
    private DecoderSignature()
    {
    }

    public required string InputIds { get; init; }

    /// <summary>Int32 or Int64, as the graph declares; the attention mask and position ids use their own.</summary>
    public required TensorElementType InputIdsType { get; init; }

    public required string AttentionMask { get; init; }

    public required TensorElementType AttentionMaskType { get; init; }

    public string? PositionIds { get; init; }

    public TensorElementType PositionIdsType { get; init; }

    /// <summary>
    /// KV inputs in run order: per layer the key then the value ([batch, kv_heads, sequence, head_size]), or one
    /// combined tensor ([2, batch, kv_heads, sequence, head_size]) when <see cref="CombinedKv"/>.
    /// </summary>
    public required string[] PastNames { get; init; }

    /// <summary>KV outputs, in the same order as <see cref="PastNames"/>.</summary>
    public required string[] PresentNames { get; init; }

    /// <summary>True for GPT-2 style graphs: one KV tensor per layer holding keys then values.</summary>
    public required bool CombinedKv { get; init; }

    /// <summary>Float or Float16.</summary>
    public required TensorElementType KvType { get; init; }

    public required string Logits { get; init; }

    /// <summary>Float or Float16; fp16 logits are widened to float before the logits processors see them.</summary>
    public required TensorElementType LogitsType { get; init; }

    public required int Layers { get; init; }

    public required int KvHeads { get; init; }

    public required int HeadSize { get; init; }

    /// <summary>
    /// Dynamic NTK RoPE: the graph takes <c>cos_cache</c>/<c>sin_cache</c> as inputs the runtime fills before each run
    /// (null for graphs with their tables as initializers).
    /// </summary>
    public DynamicNtkRope? DynamicRope { get; init; }

    /// <summary>Rows of the cos/sin caches the graph declares, when <see cref="DynamicRope"/> is set.</summary>
    public int RopeCacheRows { get; init; }

    /// <summary>The graph inputs of the dynamic RoPE tables.</summary>
    public const string CosCache = "cos_cache", SinCache = "sin_cache";

    /// <summary>KV tensors per layer: 2 (key, value) or 1 (combined).</summary>
    public int KvTensorsPerLayer => CombinedKv ? 1 : 2;

    /// <summary>Contiguous [sequence, head_size] blocks in one KV tensor: the heads, twice over when combined.</summary>
    public int KvBlocksPerTensor => CombinedKv ? 2 * KvHeads : KvHeads;

    /// <summary>Bytes of one KV element.</summary>
    public int KvElementSize => KvType == TensorElementType.Float16 ? 2 : 4;

    /// <summary>The shape of one KV tensor holding <paramref name="length"/> positions of one sequence.</summary>
    public void KvShape(Span<long> shape, int length)
    {
        int d = 0;
        if (CombinedKv)
        {
            shape[d++] = 2;
        }

        shape[d++] = 1;
        shape[d++] = KvHeads;
        shape[d++] = length;
        shape[d] = HeadSize;
    }

    /// <summary>Rank of a KV tensor: 4, or 5 when combined.</summary>
    public int KvRank => CombinedKv ? 5 : 4;

    public static DecoderSignature Resolve(GenAIConfig config, InferenceSession session, string modelPath)
    {
        var decoder = config.Model.Decoder;
        int layers = decoder.NumHiddenLayers;
        var inputs = session.InputMetadata;
        var outputs = session.OutputMetadata;
        bool combined = decoder.Inputs.PastNames is not null;
        int perLayer = combined ? 1 : 2;

        // Checked before any per-layer name is built: a huge num_hidden_layers must not allocate millions of strings.
        if ((long)layers * perLayer > inputs.Count)
        {
            throw Mismatch($"num_hidden_layers is {layers} but the graph has only {inputs.Count} inputs in all");
        }

        // position_ids: the config may name it; the official GQA graphs with fused rotary have none.
        string? positionIds = decoder.Inputs.PositionIds;
        if (positionIds is null && inputs.ContainsKey("position_ids"))
        {
            positionIds = "position_ids";
        }

        string[] past = combined
            ? Names(decoder.Inputs.PastNames!, layers)
            : Interleave(Names(decoder.Inputs.PastKeyNames, layers), Names(decoder.Inputs.PastValueNames, layers));
        string[] present = combined
            ? Names(decoder.Outputs.PresentNames!, layers)
            : Interleave(Names(decoder.Outputs.PresentKeyNames, layers), Names(decoder.Outputs.PresentValueNames, layers));

        var idsType = RequireIndexInput(decoder.Inputs.InputIds);
        var maskType = RequireIndexInput(decoder.Inputs.AttentionMask);
        var positionType = positionIds is null ? TensorElementType.Int64 : RequireIndexInput(positionIds);

        RequireInput(past[0]);
        var kvType = inputs[past[0]].ElementDataType;
        if (kvType is not (TensorElementType.Float or TensorElementType.Float16))
        {
            throw Mismatch($"input '{past[0]}' is {kvType}; LlmKit runs KV caches of Float or Float16");
        }

        int kvHeads = decoder.NumKeyValueHeads;
        int headSize = decoder.HeadSize;
        foreach (var name in past)
        {
            RequireInput(name);
            RequireKv(name, inputs[name]);
        }

        var known = new HashSet<string>(past, StringComparer.Ordinal) { decoder.Inputs.InputIds, decoder.Inputs.AttentionMask };
        if (positionIds is not null)
        {
            known.Add(positionIds);
        }

        // Dynamic NTK RoPE: the tables are inputs whose rows depend on each run's length ([rows, rotary_dim / 2] floats).
        DynamicNtkRope? dynamicRope = null;
        int ropeRows = 0;
        if (inputs.ContainsKey(CosCache) || inputs.ContainsKey(SinCache))
        {
            RequireInput(CosCache);
            RequireInput(SinCache);
            var cosDims = inputs[CosCache].Dimensions;
            var sinDims = inputs[SinCache].Dimensions;
            if (cosDims.Length != 2 || cosDims[0] <= 0 || cosDims[1] <= 0 || !cosDims.SequenceEqual(sinDims)
                || inputs[CosCache].ElementDataType != TensorElementType.Float || inputs[SinCache].ElementDataType != TensorElementType.Float)
            {
                throw Mismatch($"inputs '{CosCache}' and '{SinCache}' must both be Float [rows, rotary_dim / 2] with fixed sizes (cos_cache is [{string.Join(", ", cosDims)}])");
            }

            ropeRows = cosDims[0];
            dynamicRope = DynamicNtkRope.Read(session, modelPath, 2 * cosDims[1]);
            known.Add(CosCache);
            known.Add(SinCache);
        }

        var unexpected = inputs.Keys.Where(k => !known.Contains(k)).ToList();
        if (unexpected.Count > 0)
        {
            throw Mismatch($"the graph has inputs the configuration does not describe: {string.Join(", ", unexpected.Take(8))}");
        }

        string logits = decoder.Outputs.Logits;
        RequireOutput(logits);
        var logitsMeta = outputs[logits];
        var logitsDims = logitsMeta.Dimensions;
        if (logitsDims.Length != 3 || (logitsDims[2] > 0 && logitsDims[2] != config.Model.VocabSize))
        {
            throw Mismatch($"output '{logits}' should be [batch, sequence, {config.Model.VocabSize}] (vocab_size) but is [{string.Join(", ", logitsDims)}]");
        }

        if (logitsMeta.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16))
        {
            throw Mismatch($"output '{logits}' is {logitsMeta.ElementDataType}; LlmKit reads Float or Float16 logits");
        }

        foreach (var name in present)
        {
            RequireOutput(name);
            RequireKv(name, outputs[name]);
        }

        // GPT-2 folders omit num_attention_heads: the graph's KV shape gives the head count (GPT-2 has no GQA).
        if (decoder.NumAttentionHeads == 0)
        {
            decoder.NumAttentionHeads = kvHeads;
        }

        return new DecoderSignature
        {
            InputIds = decoder.Inputs.InputIds,
            InputIdsType = idsType,
            AttentionMask = decoder.Inputs.AttentionMask,
            AttentionMaskType = maskType,
            PositionIds = positionIds,
            PositionIdsType = positionType,
            PastNames = past,
            PresentNames = present,
            CombinedKv = combined,
            KvType = kvType,
            Logits = logits,
            LogitsType = logitsMeta.ElementDataType,
            Layers = layers,
            KvHeads = kvHeads,
            HeadSize = headSize,
            DynamicRope = dynamicRope,
            RopeCacheRows = ropeRows,
        };

        TensorElementType RequireIndexInput(string name)
        {
            RequireInput(name);
            var type = inputs[name].ElementDataType;
            if (type is not (TensorElementType.Int64 or TensorElementType.Int32))
            {
                throw Mismatch($"input '{name}' is {type} in the graph; LlmKit feeds Int64 or Int32");
            }

            return type;
        }

        void RequireInput(string name)
        {
            if (!inputs.ContainsKey(name))
            {
                throw Mismatch($"the configuration names input '{name}' but the graph has no such input (graph inputs: {string.Join(", ", inputs.Keys.Take(8))}{(inputs.Count > 8 ? ", ..." : "")})");
            }
        }

        void RequireOutput(string name)
        {
            if (!outputs.ContainsKey(name))
            {
                throw Mismatch($"the configuration names output '{name}' but the graph has no such output (graph outputs: {string.Join(", ", outputs.Keys.Take(8))}{(outputs.Count > 8 ? ", ..." : "")})");
            }
        }

        void RequireKv(string name, NodeMetadata meta)
        {
            if (meta.ElementDataType != kvType)
            {
                throw Mismatch($"'{name}' is {meta.ElementDataType} but '{past[0]}' is {kvType}: all KV tensors must share one type");
            }

            var dims = meta.Dimensions;
            int offset = combined ? 1 : 0;
            bool ok = dims.Length == 4 + offset
                && (!combined || dims[0] == 2)
                && (dims[1 + offset] <= 0 || dims[1 + offset] == kvHeads)
                && (dims[3 + offset] <= 0 || dims[3 + offset] == headSize);
            if (!ok)
            {
                string expected = combined
                    ? $"[2, batch, {kvHeads}, sequence, {headSize}]"
                    : $"[batch, {kvHeads}, sequence, {headSize}]";
                throw Mismatch($"'{name}' should be {expected} (num_key_value_heads, head_size) but the graph declares [{string.Join(", ", dims)}]");
            }
        }

        ModelFolderException Mismatch(string problem) =>
            new($"The graph '{modelPath}' does not match genai_config.json: {problem}.") { FilePath = modelPath };
    }

    private static string[] Names(string pattern, int layers)
    {
        var names = new string[layers];
        for (int i = 0; i < layers; i++)
        {
            names[i] = pattern.Replace("%d", i.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        }

        return names;
    }

    private static string[] Interleave(string[] keys, string[] values)
    {
        var names = new string[keys.Length * 2];
        for (int l = 0; l < keys.Length; l++)
        {
            names[2 * l] = keys[l];
            names[(2 * l) + 1] = values[l];
        }

        return names;
    }
}

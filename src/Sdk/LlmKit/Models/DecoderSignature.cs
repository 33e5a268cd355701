using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace LlmKit.Models;

/// <summary>
/// The decoder graph's input and output names resolved from the configuration and checked against the
/// loaded graph before the first run, so a mismatch is reported by name instead of as an ONNX Runtime error code.
/// </summary>
internal sealed class DecoderSignature
{
    private DecoderSignature()
    {
    }

    public required string InputIds { get; init; }

    public required string AttentionMask { get; init; }

    public string? PositionIds { get; init; }

    public required string[] PastKeys { get; init; }

    public required string[] PastValues { get; init; }

    public required string Logits { get; init; }

    public required string[] PresentKeys { get; init; }

    public required string[] PresentValues { get; init; }

    public int Layers => PastKeys.Length;

    public static DecoderSignature Resolve(GenAIConfig config, InferenceSession session, string modelPath)
    {
        var decoder = config.Model.Decoder;
        int layers = decoder.NumHiddenLayers;
        var inputs = session.InputMetadata;
        var outputs = session.OutputMetadata;

        // position_ids: the config may name it; the official GQA graphs with fused rotary have none.
        string? positionIds = decoder.Inputs.PositionIds;
        if (positionIds is null && inputs.ContainsKey("position_ids"))
        {
            positionIds = "position_ids";
        }

        var signature = new DecoderSignature
        {
            InputIds = decoder.Inputs.InputIds,
            AttentionMask = decoder.Inputs.AttentionMask,
            PositionIds = positionIds,
            PastKeys = Names(decoder.Inputs.PastKeyNames, layers),
            PastValues = Names(decoder.Inputs.PastValueNames, layers),
            Logits = decoder.Outputs.Logits,
            PresentKeys = Names(decoder.Outputs.PresentKeyNames, layers),
            PresentValues = Names(decoder.Outputs.PresentValueNames, layers),
        };

        RequireInput(signature.InputIds, TensorElementType.Int64);
        RequireInput(signature.AttentionMask, TensorElementType.Int64);
        if (signature.PositionIds is not null)
        {
            RequireInput(signature.PositionIds, TensorElementType.Int64);
        }

        foreach (var name in signature.PastKeys.Concat(signature.PastValues))
        {
            RequireInput(name, TensorElementType.Float);
            RequireKvShape(name, inputs[name]);
        }

        var known = new HashSet<string>(signature.PastKeys.Concat(signature.PastValues), StringComparer.Ordinal)
        {
            signature.InputIds, signature.AttentionMask,
        };
        if (signature.PositionIds is not null)
        {
            known.Add(signature.PositionIds);
        }

        var unexpected = inputs.Keys.Where(k => !known.Contains(k)).ToList();
        if (unexpected.Count > 0)
        {
            throw Mismatch($"the graph has inputs the configuration does not describe: {string.Join(", ", unexpected)}");
        }

        RequireOutput(signature.Logits);
        var logitsDims = outputs[signature.Logits].Dimensions;
        if (logitsDims.Length != 3 || (logitsDims[2] > 0 && logitsDims[2] != config.Model.VocabSize))
        {
            throw Mismatch($"output '{signature.Logits}' should be [batch, sequence, {config.Model.VocabSize}] but is [{string.Join(", ", logitsDims)}]");
        }

        foreach (var name in signature.PresentKeys.Concat(signature.PresentValues))
        {
            RequireOutput(name);
            RequireKvShape(name, outputs[name]);
        }

        return signature;

        void RequireInput(string name, TensorElementType type)
        {
            if (!inputs.TryGetValue(name, out var meta))
            {
                throw Mismatch($"the configuration names input '{name}' but the graph has no such input (graph inputs: {string.Join(", ", inputs.Keys.Take(8))}{(inputs.Count > 8 ? ", ..." : "")})");
            }

            if (meta.ElementDataType != type)
            {
                throw Mismatch($"input '{name}' is {meta.ElementDataType} in the graph but LlmKit feeds {type}");
            }
        }

        void RequireOutput(string name)
        {
            if (!outputs.ContainsKey(name))
            {
                throw Mismatch($"the configuration names output '{name}' but the graph has no such output (graph outputs: {string.Join(", ", outputs.Keys.Take(8))}{(outputs.Count > 8 ? ", ..." : "")})");
            }
        }

        void RequireKvShape(string name, NodeMetadata meta)
        {
            var dims = meta.Dimensions;
            bool ok = dims.Length == 4
                && (dims[1] <= 0 || dims[1] == decoder.NumKeyValueHeads)
                && (dims[3] <= 0 || dims[3] == decoder.HeadSize);
            if (!ok)
            {
                throw Mismatch($"'{name}' should be [batch, {decoder.NumKeyValueHeads}, sequence, {decoder.HeadSize}] (num_key_value_heads, head_size) but the graph declares [{string.Join(", ", dims)}]");
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
}

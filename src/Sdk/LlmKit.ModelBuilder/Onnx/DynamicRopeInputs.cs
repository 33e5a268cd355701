using System.Globalization;
using LlmKit.ModelBuilder.Onnx.Protos;

namespace LlmKit.ModelBuilder.Onnx;

/// <summary>
/// Dynamic NTK RoPE in a graph: <c>cos_cache</c>/<c>sin_cache</c> become float inputs [max_length, rotary_dim / 2]
/// (GroupQueryAttention and RotaryEmbedding read only the rows of the current positions), and the model's metadata
/// carries the parameters LlmKit's runtime needs to write those rows before each run. The keys are the runtime's
/// (LlmKit.Generation.DynamicNtkRope).
/// </summary>
internal static class DynamicRopeInputs
{
    public static void Declare(GraphBuilder graph, int maxLength, int half)
    {
        graph.Input("cos_cache", GraphBuilder.Float, maxLength, half);
        graph.Input("sin_cache", GraphBuilder.Float, maxLength, half);
    }

    /// <summary>Adds the parameters to <paramref name="model"/> when <paramref name="scaling"/> is dynamic.</summary>
    public static void AddMetadata(ModelProto model, RopeScaling? scaling, float theta, int trainingLength)
    {
        if (scaling is not { Type: RopeScalingType.Dynamic })
        {
            return;
        }

        Add("llmkit.rope_scaling.type", "dynamic");
        Add("llmkit.rope_scaling.factor", scaling.Factor.ToString("R", CultureInfo.InvariantCulture));
        Add("llmkit.rope_scaling.original_max_position_embeddings", (scaling.OriginalMaxPositionEmbeddings ?? trainingLength).ToString(CultureInfo.InvariantCulture));
        Add("llmkit.rope_theta", theta.ToString("R", CultureInfo.InvariantCulture));

        void Add(string key, string value) => model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
    }
}

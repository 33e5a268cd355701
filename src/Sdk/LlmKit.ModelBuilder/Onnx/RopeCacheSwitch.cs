using LlmKit.ModelBuilder.Onnx.Protos;
using static LlmKit.ModelBuilder.Onnx.GraphBuilder;

namespace LlmKit.ModelBuilder.Onnx;

/// <summary>
/// The graph's RoPE tables <c>cos_cache</c>/<c>sin_cache</c>. Static initializers for every scaling type except a
/// longrope whose short and long factors differ: then, as onnxruntime-genai's builder does for Phi-3, two pairs of
/// tables (<c>*_cache_small</c> [original, head/2] with the short factors, <c>*_cache_large</c> [context, head/2] with
/// the long ones) and an <c>If</c> on Greater(total sequence length, original) that picks one per run, which is
/// Hugging Face's rule (short factors while the sequence is within the original length). The branches are Identity
/// nodes over outer-scope initializers (the official builder inlines Constant nodes; this keeps big tables in the
/// external data file).
/// </summary>
internal static class RopeCacheSwitch
{
    /// <summary>Model metadata key holding the switch length, so a runtime can tell that a prefix's KV depends on it.</summary>
    public const string MetadataKey = "llmkit.rope_cache_switch_length";

    /// <summary>The original length at which the graph switches tables, or null when it has one static pair.</summary>
    public static int? SwitchLength(RopeScaling? scaling, int maxLength) =>
        scaling is { SwitchesFactorSets: true, OriginalMaxPositionEmbeddings: { } original } && maxLength > original ? original : null;

    /// <summary>Records the switch length in the model's metadata (nothing when there is no switch).</summary>
    public static void AddMetadata(ModelProto model, RopeScaling? scaling, int maxLength)
    {
        if (SwitchLength(scaling, maxLength) is { } original)
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = MetadataKey, Value = original.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }
    }

    /// <summary>Adds the tables (and the switch when <see cref="SwitchLength"/> says so).</summary>
    /// <param name="graph">The graph.</param>
    /// <param name="tensor">Creates a table initializer in the graph's float type.</param>
    /// <param name="elementType">That float type.</param>
    /// <param name="maxLength">The context length (rows of the static or large tables).</param>
    /// <param name="half">Rotated pairs per head.</param>
    /// <param name="scaling">The model's RoPE scaling.</param>
    /// <param name="frequenciesFor">The frequencies for a sequence length.</param>
    /// <param name="totalLength">The int64 scalar total sequence length (attention mask width).</param>
    public static void Emit(GraphBuilder graph, Func<string, long[], Action<Span<float>>, TensorProto> tensor, int elementType, int maxLength, int half,
        RopeScaling? scaling, Func<int, RopeFrequencies> frequenciesFor, string totalLength)
    {
        if (SwitchLength(scaling, maxLength) is not { } original)
        {
            Tables(graph, tensor, "cos_cache", "sin_cache", maxLength, half, frequenciesFor(maxLength));
            return;
        }

        Tables(graph, tensor, "cos_cache_large", "sin_cache_large", maxLength, half, frequenciesFor(maxLength)); // long factors
        Tables(graph, tensor, "cos_cache_small", "sin_cache_small", original, half, frequenciesFor(original)); // short factors
        const string p = "/model/rotemb_caches_subgraph";
        string threshold = graph.Int64Constant($"/model/constants/INT64/0D/{original}", [], original);
        string longer = graph.Node("Greater", $"{p}/Greater", [totalLength, threshold]);
        graph.AddNode("If", $"{p}/If", [longer], ["cos_cache", "sin_cache"], "",
            Branch("then_branch", "large", maxLength, half, elementType),
            Branch("else_branch", "small", original, half, elementType));
    }

    private static void Tables(GraphBuilder graph, Func<string, long[], Action<Span<float>>, TensorProto> tensor, string cos, string sin, int rows, int half, RopeFrequencies frequencies)
    {
        graph.Initializer(tensor(cos, [rows, half], s => WeightTransforms.RopeTable(s, rows, frequencies, cosine: true)));
        graph.Initializer(tensor(sin, [rows, half], s => WeightTransforms.RopeTable(s, rows, frequencies, cosine: false)));
    }

    // A branch graph returning the outer-scope tables cos_cache_{size} and sin_cache_{size} through Identity nodes.
    private static AttributeProto Branch(string attribute, string size, int rows, int half, int elementType)
    {
        var branch = new GraphProto { Name = $"{size}_rotemb_caches_graph" };
        foreach (string table in new[] { "cos", "sin" })
        {
            string output = $"/{size}/{table}_cache/Identity/output_0";
            branch.Node.Add(new NodeProto { OpType = "Identity", Name = $"/{size}/{table}_cache/Identity", Input = { $"{table}_cache_{size}" }, Output = { output } });
            branch.Output.Add(ValueInfo(output, elementType, rows, half));
        }

        return new AttributeProto { Name = attribute, Type = AttributeProto.Types.AttributeType.Graph, G = branch };
    }
}

<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis styleCategories="Symbology" version="3.22.16-Białowieża">
  <pipe-data-defined-properties>
    <Option type="Map">
      <Option name="name" value="" type="QString"/>
      <Option name="properties"/>
      <Option name="type" value="collection" type="QString"/>
    </Option>
  </pipe-data-defined-properties>
  <pipe>
    <provider>
      <resampling zoomedInResamplingMethod="nearestNeighbour" maxOversampling="2" enabled="false" zoomedOutResamplingMethod="nearestNeighbour"/>
    </provider>
    <rasterrenderer alphaBand="-1" opacity="0.6" nodataColor="" band="1" type="paletted">
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <colorPalette>
        <paletteEntry alpha="255" label="0 bg non-ore" value="0" color="#000000"/>
        <paletteEntry alpha="255" label="1 ccp chalcopyrite" value="1" color="#ffa500"/>
        <paletteEntry alpha="255" label="2 gl galena" value="2" color="#9acd32"/>
        <paletteEntry alpha="255" label="3 mag magnetite" value="3" color="#ff4500"/>
        <paletteEntry alpha="255" label="4 br bornite" value="4" color="#00bfff"/>
        <paletteEntry alpha="255" label="5 po pyrrhotite" value="5" color="#a9a9a9"/>
        <paletteEntry alpha="255" label="6 py pyrite" value="6" color="#2f4f4f"/>
        <paletteEntry alpha="255" label="7 pn pentlandite" value="7" color="#ffff00"/>
        <paletteEntry alpha="255" label="8 sh sphalerite" value="8" color="#ee82ee"/>
        <paletteEntry alpha="255" label="9 apy arsenopyrite" value="9" color="#556b2f"/>
        <paletteEntry alpha="255" label="10 gmt hematite" value="10" color="#a0522d"/>
        <paletteEntry alpha="255" label="11 tnt tennantite" value="11" color="#483d8b"/>
        <paletteEntry alpha="255" label="12 cv covellite" value="12" color="#008000"/>
        <paletteEntry alpha="255" label="13 mrc marcasite" value="13" color="#00008b"/>
        <paletteEntry alpha="255" label="14 au native gold" value="14" color="#8b008b"/>
      </colorPalette>
    </rasterrenderer>
    <brightnesscontrast brightness="0" gamma="1" contrast="0"/>
    <huesaturation colorizeBlue="128" colorizeRed="255" colorizeGreen="128" grayscaleMode="0" colorizeOn="0" colorizeStrength="100" saturation="0" invertColors="0"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
